package generator

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"lbl.gov/invenio-gitops/generator/tree"
)

// The benchmarks below are for profiling (go test -bench . -cpuprofile,
// docs/speed.md); make bench times the CLI itself. BenchmarkGenerateAndBuild
// is the whole job; BenchmarkGenerate and BenchmarkBuild split it to show
// what dominates.

// BenchmarkGenerateAndBuild is one full run: read platform.yaml, compute
// the tree, and build every environment's overlay in-process.
func BenchmarkGenerateAndBuild(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		p, t := generate(b)
		for _, e := range p.Environments {
			if _, err := BuildYAML(t, "overlays/"+string(e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkGenerate is config.Load plus Generate, no kustomize.
func BenchmarkGenerate(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		generate(b)
	}
}

// BenchmarkBuild is the in-process kustomize build of every environment
// from an already generated tree.
func BenchmarkBuild(b *testing.B) {
	p, t := generate(b)
	b.ReportAllocs()
	for b.Loop() {
		for _, e := range p.Environments {
			if _, err := BuildYAML(t, "overlays/"+string(e.Name)); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchmarkBuildOverlay is kustomize's build of one directory of the
// committed tree (BUILD_DIR, default overlays/dev/app), each run with an
// empty memo: what one environment's layer costs (docs/speed.md).
func BenchmarkBuildOverlay(b *testing.B) {
	dir := os.Getenv("BUILD_DIR")
	if dir == "" {
		dir = "overlays/dev/app"
	}
	t := tree.Tree{}
	for _, root := range []string{"base", "overlays", "secrets"} {
		err := filepath.WalkDir(filepath.Join("..", root), func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			c, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			rel, err := filepath.Rel("..", p)
			t[filepath.ToSlash(rel)] = c
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	if _, err := Build(t, dir); err != nil { // kustomize's one-time set-up
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := NewBuilds().Repo(t).Build(dir); err != nil {
			b.Fatal(err)
		}
	}
}
