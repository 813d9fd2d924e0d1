package sealing

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	ssv1alpha1 "github.com/bitnami-labs/sealed-secrets/pkg/apis/sealedsecrets/v1alpha1"
	yamlv3 "gopkg.in/yaml.v3"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/yaml"

	"lbl.gov/invenio-gitops/generator/tree"
)

// The files of an environment's directory besides one <secret>.yaml per
// SealedSecret.
const (
	CertFile          = "sealing-cert.pem"
	KustomizationFile = "kustomization.yaml"
)

// Header is the first line of every file the secrets commands write.
const Header = "# Written by `platformctl secrets` (docs/secrets.md). Do not edit.\n"

// tempPrefix starts the names of files staged by WriteDir.
const tempPrefix = ".secrets-"

// FileName is the file of the SealedSecret for the Secret name.
func FileName(secret string) string { return secret + ".yaml" }

// SecretOfFile is the inverse of FileName: the Secret a file of
// secrets/<env>/ seals, or false for the files that seal none (the
// kustomization, the certificate, anything not YAML).
func SecretOfFile(name string) (string, bool) {
	secret, isYAML := strings.CutSuffix(name, ".yaml")
	if !isYAML || name == KustomizationFile || strings.Contains(name, "/") {
		return "", false
	}
	return secret, true
}

// Marshal is the file form of a SealedSecret: YAML with sorted keys,
// without status, creationTimestamp or other fields the API server fills in.
func Marshal(ss *ssv1alpha1.SealedSecret) ([]byte, error) {
	c := ss.DeepCopy()
	c.TypeMeta.APIVersion = ssv1alpha1.SchemeGroupVersion.String()
	c.TypeMeta.Kind = "SealedSecret"
	c.Status = nil
	for _, m := range []*metav1.ObjectMeta{&c.ObjectMeta, &c.Spec.Template.ObjectMeta} {
		m.ResourceVersion, m.UID, m.Generation, m.ManagedFields = "", "", 0, nil
		m.CreationTimestamp = metav1.Time{}
		m.SelfLink = ""
	}
	b, err := tree.MarshalObjects(c)
	if err != nil {
		return nil, err
	}
	return append([]byte(Header), b...), nil
}

// Unmarshal parses one SealedSecret strictly: one YAML document, no
// unknown or duplicate fields, apiVersion bitnami.com/v1alpha1, a name and
// a namespace, and every value base64 text under a valid Secret key.
func Unmarshal(b []byte) (*ssv1alpha1.SealedSecret, error) {
	if n, err := documents(b); err != nil {
		return nil, err
	} else if n != 1 {
		return nil, fmt.Errorf("holds %d YAML documents, not one SealedSecret", n)
	}
	var ss ssv1alpha1.SealedSecret
	if err := yaml.UnmarshalStrict(b, &ss); err != nil {
		return nil, err
	}
	if ss.APIVersion != ssv1alpha1.SchemeGroupVersion.String() || ss.Kind != "SealedSecret" {
		return nil, fmt.Errorf("is %s %s, not %s SealedSecret", ss.APIVersion, ss.Kind, ssv1alpha1.SchemeGroupVersion)
	}
	if ss.Name == "" || ss.Namespace == "" {
		return nil, errors.New("the SealedSecret needs metadata.name and metadata.namespace")
	}
	if ss.Spec.Data != nil {
		return nil, errors.New("uses the deprecated spec.data form: re-seal it")
	}
	// SealedSecretEncryptedData's decoder ignores values that are not
	// strings; read them again, strictly.
	j, err := yaml.YAMLToJSON(b)
	if err != nil {
		return nil, err
	}
	var raw struct {
		Spec struct {
			EncryptedData map[string]any `json:"encryptedData"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(j, &raw); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(raw.Spec.EncryptedData))
	for k := range raw.Spec.EncryptedData {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if err := ValidKey(k); err != nil {
			return nil, fmt.Errorf("spec.encryptedData: %v", err)
		}
		s, ok := raw.Spec.EncryptedData[k].(string)
		if !ok {
			return nil, fmt.Errorf("spec.encryptedData.%s is not a string", k)
		}
		if _, err := base64.StdEncoding.DecodeString(s); err != nil || s == "" {
			return nil, fmt.Errorf("spec.encryptedData.%s is not base64 ciphertext", k)
		}
	}
	if ss.Spec.EncryptedData == nil {
		ss.Spec.EncryptedData = ssv1alpha1.SealedSecretEncryptedData{}
	}
	return &ss, nil
}

// documents counts the non-empty YAML documents of b.
func documents(b []byte) (int, error) {
	dec := yamlv3.NewDecoder(bytes.NewReader(b))
	n := 0
	for {
		var node yamlv3.Node
		err := dec.Decode(&node)
		if errors.Is(err, io.EOF) {
			return n, nil
		}
		if err != nil {
			return n, err
		}
		if len(node.Content) > 0 {
			n++
		}
	}
}

// Kustomization is the kustomization.yaml of an environment's directory:
// every SealedSecret file, sorted.
func Kustomization(files []string) ([]byte, error) {
	files = append([]string(nil), files...)
	sort.Strings(files)
	k := &types.Kustomization{
		TypeMeta:  types.TypeMeta{APIVersion: types.KustomizationVersion, Kind: types.KustomizationKind},
		Resources: files,
	}
	b, err := tree.MarshalObjects(k)
	if err != nil {
		return nil, err
	}
	return append([]byte(Header), b...), nil
}

// Dir is what an environment's directory (secrets/<env>/) holds.
type Dir struct {
	// Cert is sealing-cert.pem; nil when there is none.
	Cert []byte
	// Sealed are the SealedSecrets by Secret name (their file is
	// <name>.yaml).
	Sealed map[string]*ssv1alpha1.SealedSecret
}

// ReadDir reads an environment's directory: the certificate, and every
// *.yaml besides kustomization.yaml as one SealedSecret (strictly, see
// Unmarshal), whose metadata.name must be its file name. A directory that
// does not exist is empty. Other files are ignored.
func ReadDir(dir string) (Dir, error) {
	d := Dir{Sealed: map[string]*ssv1alpha1.SealedSecret{}}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return d, nil
	}
	if err != nil {
		return d, err
	}
	for _, e := range entries {
		name := e.Name()
		p := filepath.Join(dir, name)
		switch {
		case e.IsDir() || strings.HasPrefix(name, tempPrefix):
			continue
		case name == CertFile:
			b, err := os.ReadFile(p)
			if err != nil {
				return d, err
			}
			d.Cert = b
		default:
			want, ok := SecretOfFile(name)
			if !ok {
				continue
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return d, err
			}
			ss, err := Unmarshal(b)
			if err != nil {
				return d, fmt.Errorf("%s: %v", p, err)
			}
			if ss.Name != want {
				return d, fmt.Errorf("%s: holds the SealedSecret %q; the file of a SealedSecret is named after it (%s)", p, ss.Name, FileName(ss.Name))
			}
			d.Sealed[ss.Name] = ss
		}
	}
	return d, nil
}

// Files is every file the directory must hold: one per SealedSecret, the
// kustomization listing them, and the certificate if there is one.
func (d Dir) Files() (map[string][]byte, error) {
	out := map[string][]byte{}
	var names []string
	for name, ss := range d.Sealed {
		if ss.Name != name {
			return nil, fmt.Errorf("SealedSecret %q filed as %q", ss.Name, name)
		}
		b, err := Marshal(ss)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out[FileName(name)] = b
		names = append(names, FileName(name))
	}
	k, err := Kustomization(names)
	if err != nil {
		return nil, err
	}
	out[KustomizationFile] = k
	if d.Cert != nil {
		out[CertFile] = d.Cert
	}
	return out, nil
}

// WriteDir makes the named files of dir hold files (name → content) and
// removes the files of remove that exist, leaving other files alone, and
// returns the names it wrote. Unchanged files are not touched. Every
// changed file is first written and synced beside its target, and only
// when all of them are staged are they renamed into place and the others
// removed, all or nothing (tree.Commit): an error leaves the directory as
// it was, and each file is always either wholly old or wholly new.
func WriteDir(dir string, files map[string][]byte, remove ...string) ([]string, error) {
	names := make([]string, 0, len(files))
	for n := range files {
		if n != filepath.Base(n) || n == "." || n == ".." || strings.HasPrefix(n, tempPrefix) {
			return nil, fmt.Errorf("%q is not a file name of %s", n, dir)
		}
		names = append(names, n)
	}
	var gone []string
	for _, n := range remove {
		if n != filepath.Base(n) || n == "." || n == ".." || strings.HasPrefix(n, tempPrefix) {
			return nil, fmt.Errorf("%q is not a file name of %s", n, dir)
		}
		if _, in := files[n]; in {
			return nil, fmt.Errorf("%s is both written and removed", n)
		}
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil {
			if !fi.Mode().IsRegular() {
				return nil, fmt.Errorf("%s is not a regular file", filepath.Join(dir, n))
			}
			gone = append(gone, n)
		}
	}
	sort.Strings(gone)
	sort.Strings(names)
	for _, n := range names {
		if fi, err := os.Lstat(filepath.Join(dir, n)); err == nil && !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("%s is not a regular file", filepath.Join(dir, n))
		}
	}
	type pending struct{ tmp, final, name string }
	var staged []pending
	cleanup := func() {
		for _, s := range staged {
			os.Remove(s.tmp)
		}
	}
	for _, n := range names {
		final := filepath.Join(dir, n)
		if old, err := os.ReadFile(final); err == nil && bytes.Equal(old, files[n]) {
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			cleanup()
			return nil, err
		}
		f, err := os.CreateTemp(dir, tempPrefix+"*")
		if err != nil {
			cleanup()
			return nil, err
		}
		staged = append(staged, pending{f.Name(), final, n})
		_, err = f.Write(files[n])
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(f.Name(), 0o644)
		}
		if err != nil {
			cleanup()
			return nil, err
		}
	}
	if len(staged)+len(gone) == 0 {
		return nil, nil
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		cleanup()
		return nil, err
	}
	defer root.Close()
	commit := make([]tree.Staged, len(staged))
	written := make([]string, len(staged))
	for i, s := range staged {
		commit[i] = tree.Staged{Tmp: filepath.Base(s.tmp), Final: s.name}
		written[i] = s.name
	}
	if err := tree.Commit(root, tempPrefix, commit, gone); err != nil {
		var ce *tree.CommitError
		if errors.As(err, &ce) {
			ce.Path = filepath.Join(dir, ce.Path)
		}
		return nil, err
	}
	return written, nil
}
