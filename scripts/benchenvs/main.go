// Command benchenvs writes the descriptions `make bench` times: a copy of
// a repository whose description has n copies of one of its environments
// (dev by default), each with its own name, namespace, host, index prefix
// and cluster, and that environment's sealing certificate copied for each,
// so that `platformctl secrets init <env>` seals every key of the copy.
// It prints the names of the environments it wrote, one per line.
//
//	go run ./scripts/benchenvs -from . -to /tmp/bench100 -n 100 [-env dev]
package main

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"gopkg.in/yaml.v3"
)

func main() {
	from := flag.String("from", ".", "the repository to copy from (its platform.yaml and secrets/)")
	to := flag.String("to", "", "the directory to write (created; must not exist)")
	n := flag.Int("n", 100, "how many environments")
	env := flag.String("env", "dev", "the environment to copy")
	flag.Parse()
	if err := run(*from, *to, *env, *n); err != nil {
		fmt.Fprintln(os.Stderr, "benchenvs:", err)
		os.Exit(2)
	}
}

func run(from, to, env string, n int) error {
	if to == "" || n < 1 || n > 999 {
		return fmt.Errorf("-to is required and -n must be 1 to 999")
	}
	b, err := os.ReadFile(filepath.Join(from, "platform.yaml"))
	if err != nil {
		return err
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(b, &doc); err != nil {
		return err
	}
	root := doc.Content[0]
	envs := value(root, "environments")
	if envs == nil {
		return fmt.Errorf("platform.yaml has no environments")
	}
	var model *yaml.Node
	for _, e := range envs.Content {
		if v := value(e, "name"); v != nil && v.Value == env {
			model = e
		}
	}
	if model == nil {
		return fmt.Errorf("platform.yaml has no environment %q", env)
	}
	if err := os.Mkdir(to, 0o755); err != nil {
		return err
	}
	envs.Content = nil
	for i := 1; i <= n; i++ {
		name := fmt.Sprintf("%s%03d", env, i)
		var c yaml.Node
		if err := copyNode(model, &c); err != nil {
			return err
		}
		set(&c, "name", name)
		set(&c, "namespace", "invenio-"+name)
		set(&c, "host", name+".bench.example.org")
		if s := value(&c, "search"); s != nil {
			set(s, "indexPrefix", "bench-"+name)
		}
		envs.Content = append(envs.Content, &c)
		fmt.Println(name)
		if err := copyFile(filepath.Join(from, "secrets", env, "sealing-cert.pem"), filepath.Join(to, "secrets", name, "sealing-cert.pem")); err != nil {
			return err
		}
	}
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(to, "platform.yaml"), out.Bytes(), 0o644)
}

func value(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func set(m *yaml.Node, key, v string) {
	if n := value(m, key); n != nil {
		n.Value = v
		return
	}
	m.Content = append(m.Content,
		&yaml.Node{Kind: yaml.ScalarNode, Value: key},
		&yaml.Node{Kind: yaml.ScalarNode, Value: v})
}

func copyNode(from, to *yaml.Node) error {
	b, err := yaml.Marshal(from)
	if err != nil {
		return err
	}
	var d yaml.Node
	if err := yaml.Unmarshal(b, &d); err != nil {
		return err
	}
	*to = *d.Content[0]
	return nil
}

func copyFile(from, to string) error {
	b, err := os.ReadFile(from)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		return err
	}
	return os.WriteFile(to, b, 0o644)
}
