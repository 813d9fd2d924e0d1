//go:build e2e

package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
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
	"lbl.gov/invenio-gitops/internal/e2e/cluster"
)

// repo is a working copy of the GitOps repository for one test: the
// committed description and generated tree, with the secrets of the
// environments under test sealed again — by our CLI — for a key pair the
// test owns (the committed ones are sealed for placeholder certificates
// whose private keys were destroyed).
type repo struct {
	Dir string
}

// repoParts are what Flux's artifact holds and the CLI reads.
var repoParts = []string{"platform.yaml", "base", "overlays", "secrets", "clusters"}

func newRepo(t *testing.T, key cluster.SealingKeyPair, envs ...string) *repo {
	t.Helper()
	r := &repo{Dir: t.TempDir()}
	for _, part := range repoParts {
		if err := copyTree(filepath.Join(root, part), filepath.Join(r.Dir, part)); err != nil {
			t.Fatal(err)
		}
	}
	p := r.platform(t)
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
		if err := os.WriteFile(filepath.Join(dir, "sealing-cert.pem"), key.CertPEM, 0o644); err != nil {
			t.Fatal(err)
		}
		r.cli(t, "secrets", "init", env)
		keys, err := generator.SecretKeys(p, env)
		if err != nil {
			t.Fatal(err)
		}
		for _, k := range keys {
			if k.Generated() {
				continue
			}
			// Operator-supplied values (the SAML key pair): any value
			// exercises the sealing path; nothing on a simulated node reads it.
			value := filepath.Join(t.TempDir(), "value")
			os.WriteFile(value, []byte("e2e-operator-value-"+randomHex(8)), 0o600)
			r.cli(t, "secrets", "set", env, k.Target.Name+"/"+k.Key, "--from-file", value)
		}
	}
	r.cli(t, "generate", "-q")
	return r
}

func (r *repo) platform(t *testing.T) *config.Platform {
	t.Helper()
	p, err := config.Load(filepath.Join(r.Dir, "platform.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// cli runs platformctl against this working copy, as an operator would.
func (r *repo) cli(t *testing.T, args ...string) string {
	t.Helper()
	full := append(append([]string{}, args...), "-C", r.Dir, "-f", filepath.Join(r.Dir, "platform.yaml"))
	cmd := exec.Command(platformctl, full...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("platformctl %s: %v\n%s%s", strings.Join(full, " "), err, out.String(), errb.String())
	}
	return out.String()
}

// setWorkloadEnabled edits the description like an operator: turns an
// optional workload of one environment on or off, keeping the file's
// comments and layout.
func (r *repo) setWorkloadEnabled(t *testing.T, env, workload string, on bool) {
	t.Helper()
	path := filepath.Join(r.Dir, "platform.yaml")
	b, err := os.ReadFile(path)
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
	for _, k := range []string{"workloads", workload} {
		n = ensureMap(n, k)
	}
	v := mapValue(n, "enabled")
	if v == nil {
		n.Content = append(n.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: "enabled"}, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!bool"})
		v = n.Content[len(n.Content)-1]
	}
	v.Value = fmt.Sprint(on)
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
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

func copyTree(src, dst string) error {
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

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}
