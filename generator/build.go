package generator

import (
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"lbl.gov/invenio-gitops/generator/tree"
)

// Build runs kustomize in-process on dir of t (e.g. overlays/prod),
// ordered like `kustomize build` (kinds that others need first).
func Build(t tree.Tree, dir string) (resmap.ResMap, error) {
	fs := filesys.MakeFsInMemory()
	for _, p := range t.Paths() {
		if err := fs.WriteFile("/"+p, t[p]); err != nil {
			return nil, err
		}
	}
	opts := krusty.MakeDefaultOptions()
	opts.Reorder = krusty.ReorderOptionLegacy
	return krusty.MakeKustomizer(opts).Run(fs, "/"+dir)
}

// BuildYAML is Build as one YAML stream.
func BuildYAML(t tree.Tree, dir string) ([]byte, error) {
	m, err := Build(t, dir)
	if err != nil {
		return nil, err
	}
	return m.AsYaml()
}
