// Package workcopy makes, for a test, a working copy of the GitOps
// repository whose secrets are sealed again — by our CLI — for a key pair
// the test owns (the committed ones are sealed for placeholder certificates
// whose private keys were destroyed), and edits its description the way an
// operator would. The e2e tests (control plane) and the run-time tests (the
// real programs) share it.
package workcopy

import (
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"lbl.gov/invenio-gitops/generator"
	"lbl.gov/invenio-gitops/generator/config"
	"lbl.gov/invenio-gitops/generator/sealing"
)

// Parts are what Flux's artifact holds and the CLI reads.
var Parts = []string{"platform.yaml", "base", "overlays", "secrets", "clusters"}

// Repo is a working copy.
type Repo struct {
	Dir         string
	platformctl string
}

// BuildCLI builds cmd/platformctl of the repository at root into dir.
func BuildCLI(root, dir string) (string, error) {
	bin := filepath.Join(dir, "platformctl")
	build := exec.Command("go", "build", "-o", bin, "./cmd/platformctl")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return "", fmt.Errorf("building platformctl: %w", err)
	}
	return bin, nil
}

// Operator gives the value of a key only the operator can supply (the
// SAML key pair), for the working copy's `secrets set`.
type Operator func(k sealing.Key) []byte

// New copies the repository at root and, for each environment of envs,
// seals every secret again for certPEM with `platformctl secrets init`
// (generated values) and `secrets set` (operator values from op), then
// runs `generate`.
func New(t testing.TB, root, platformctl string, certPEM []byte, op Operator, envs ...string) *Repo {
	t.Helper()
	r := &Repo{Dir: t.TempDir(), platformctl: platformctl}
	for _, part := range Parts {
		if err := CopyTree(filepath.Join(root, part), filepath.Join(r.Dir, part)); err != nil {
			t.Fatal(err)
		}
	}
	p := r.Platform(t)
	for _, env := range envs {
		dir := filepath.Join(r.Dir, generator.SecretsDir(env))
		entries, err := os.ReadDir(dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if _, ok := sealing.SecretOfFile(e.Name()); ok {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
		if err := os.WriteFile(filepath.Join(dir, "sealing-cert.pem"), certPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		r.CLI(t, "secrets", "init", env)
		keys, err := generator.SecretKeys(p, env)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Generated() {
				continue
			}
			value := filepath.Join(t.TempDir(), "value")
			if err := os.WriteFile(value, op(k), 0o600); err != nil {
				t.Fatal(err)
			}
			r.CLI(t, "secrets", "set", env, k.Target.Name+"/"+k.Key, "--from-file", value)
		}
	}
	r.CLI(t, "generate", "-q")
	return r
}

// Platform loads the working copy's description.
func (r *Repo) Platform(t testing.TB) *config.Platform {
	t.Helper()
	p, err := config.Load(filepath.Join(r.Dir, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// CLI runs platformctl against the working copy, as an operator would.
func (r *Repo) CLI(t testing.TB, args ...string) string {
	t.Helper()
	full := append(append([]string{}, args...), "-C", r.Dir, "-f", filepath.Join(r.Dir, "platform.yaml"))
	cmd := exec.Command(r.platformctl, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("platformctl %s: %v\n%s%s", strings.Join(full, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// SetWorkloadEnabled turns an optional workload of one environment on or
// off in the description, keeping the file's comments and layout.
func (r *Repo) SetWorkloadEnabled(t testing.TB, env, workload string, on bool) {
	t.Helper()
	r.Edit(t, env, []string{"workloads", workload}, "enabled", fmt.Sprint(on), "!!bool")
}

// Edit sets key in the mapping at path below environment env of the
// description (creating the mappings on the way), keeping the file's
// comments and layout. tag is the YAML tag of the value ("" for a string).
func (r *Repo) Edit(t testing.TB, env string, path []string, key, value, tag string) {
	t.Helper()
	r.editNode(t, env, path, func(n *yaml.Node) {
		v := mapValue(n, key)
		if v == nil {
			n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, &yaml.Node{Kind: yaml.ScalarNode})
			v = n.Content[len(n.Content)-1]
		}
		*v = yaml.Node{Kind: yaml.ScalarNode, Value: value, Tag: tag}
	})
}

// editNode applies f to the mapping at path below environment env of the
// description (made where missing) and writes the file back.
func (r *Repo) editNode(t testing.TB, env string, path []string, f func(*yaml.Node)) {
	t.Helper()
	file := filepath.Join(r.Dir, "platform.yaml")
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	envs := mapValue(doc.Content[0], "environments")
	if envs == nil {
		t.Fatal("platform.yaml has no environments")
	}
	var found *yaml.Node
	for _, e := range envs.Content {
		if n := mapValue(e, "name"); n != nil && n.Value == env {
			found = e
		}
	}
	if found == nil {
		t.Fatalf("no environment %s in platform.yaml", env)
	}
	n := found
	for _, k := range path {
		n = ensureMap(n, k)
	}
	f(n)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// Delete removes key from the mapping at path below environment env of
// the description, if it is there.
func (r *Repo) Delete(t testing.TB, env string, path []string, key string) {
	t.Helper()
	r.editNode(t, env, path, func(n *yaml.Node) {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				n.Content = append(n.Content[:i], n.Content[i+2:]...)
				return
			}
		}
	})
}

func mapValue(m *yaml.Node, key string) *yaml.Node {
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func ensureMap(m *yaml.Node, key string) *yaml.Node {
	if v := mapValue(m, key); v != nil {
		if v.Kind != yaml.MappingNode {
			*v = yaml.Node{Kind: yaml.MappingNode}
		}
		return v
	}
	v := &yaml.Node{Kind: yaml.MappingNode}
	m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: key}, v)
	return v
}

// CopyTree copies a file or a directory tree.
func CopyTree(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return copyFile(src, dst)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		return copyFile(p, target)
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}
