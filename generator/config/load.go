package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Problem is one thing wrong with a description, at a line of its file.
type Problem struct {
	Line int
	Path string // e.g. environments[2].workloads.webUI.replicas
	Msg  string
}

// Error lists every problem of a description, each as file:line: path: message.
type Error struct {
	File     string
	Problems []Problem
}

func (e *Error) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		if p.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: ", e.File, p.Line)
		} else {
			fmt.Fprintf(&b, "%s: ", e.File)
		}
		if p.Path != "" {
			b.WriteString(p.Path + ": ")
		}
		b.WriteString(p.Msg)
	}
	return b.String()
}

// Load reads and validates the description at path.
func Load(path string) (*Platform, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// topLevel is the shape of the file before layering.
type topLevel struct {
	Site           yaml.Node   `yaml:"site"`
	Defaults       yaml.Node   `yaml:"defaults"`
	Environments   []yaml.Node `yaml:"environments"`
	GitOps         yaml.Node   `yaml:"gitops"`
	Infrastructure yaml.Node   `yaml:"infrastructure"`
}

// Parse decodes and validates a description; file is used in messages only.
func Parse(file string, data []byte) (*Platform, error) {
	l := &loader{file: file, paths: map[int]string{}}
	root, err := l.document(data)
	if err != nil {
		return nil, err
	}
	// Unknown fields are reported with the bad values below, so one run
	// shows every problem of the file.
	l.checkFields(root, reflect.TypeOf(topLevel{}), "", true)
	var top topLevel
	if err := root.Decode(&top); err != nil {
		l.decodeError(err)
		return nil, l.err()
	}

	p := &Platform{File: file, Site: DefaultSite(), GitOps: DefaultGitOps(), Infrastructure: DefaultInfrastructure()}
	l.decode(&top.Site, &p.Site)
	l.decode(&top.GitOps, &p.GitOps)
	l.decode(&top.Infrastructure, &p.Infrastructure)
	defaults := &top.Defaults
	if name := mappingValue(defaults, "name"); name != nil {
		l.add(name.Line, "defaults.name", "defaults cannot name an environment: move name into an entry of environments")
	}
	p.Defaults = Defaults()
	l.decode(defaults, &p.Defaults)
	for i := range top.Environments {
		n := &top.Environments[i]
		e := Defaults()
		l.decode(defaults, &e)
		l.decode(n, &e)
		e.Line = n.Line
		if e.Cluster == "" {
			e.Cluster = e.Name
		}
		p.Environments = append(p.Environments, e)
	}
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	p.src = &source{root: root, defaults: defaults}
	for i := range top.Environments {
		p.src.envs = append(p.src.envs, &top.Environments[i])
	}
	l.validate(p, root, &top)
	if len(l.problems) > 0 {
		return nil, l.err()
	}
	return p, nil
}

type loader struct {
	file     string
	problems []Problem
	paths    map[int]string // line → path of the value on it (for decode errors)
}

func (l *loader) add(line int, path, msg string) {
	p := Problem{Line: line, Path: path, Msg: msg}
	for _, q := range l.problems {
		if q == p {
			return // defaults: is decoded once per environment
		}
	}
	l.problems = append(l.problems, p)
}

func (l *loader) hasProblemAt(line int) bool {
	for _, q := range l.problems {
		if q.Line == line {
			return true
		}
	}
	return false
}

func (l *loader) err() error {
	sort.SliceStable(l.problems, func(i, j int) bool { return l.problems[i].Line < l.problems[j].Line })
	return &Error{File: l.file, Problems: l.problems}
}

func (l *loader) document(data []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			l.add(1, "", "the description is empty: start from the platform.yaml in the repository root")
			return nil, l.err()
		}
		l.decodeError(err)
		return nil, l.err()
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.add(extra.Line, "", "the description must be a single YAML document: remove the second '---'")
		return nil, l.err()
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		l.add(root.Line, "", "the description must be a mapping with site, defaults and environments")
		return nil, l.err()
	}
	return root, nil
}

var lineMsg = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// decodeError turns yaml.v3's messages into problems with a line and path.
func (l *loader) decodeError(err error) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		line := 0
		if sub := lineMsg.FindStringSubmatch(m); sub != nil {
			line, _ = strconv.Atoi(sub[1])
			m = sub[2]
		}
		if strings.HasPrefix(m, "cannot unmarshal") && l.hasProblemAt(line) {
			continue // checkFields already said what shape belongs here
		}
		m = strings.ReplaceAll(m, "cannot unmarshal !!", "cannot read a YAML ")
		l.add(line, l.paths[line], m)
	}
}

func (l *loader) decode(n *yaml.Node, out any) {
	if n.Kind == 0 {
		return // section absent
	}
	resetMaps(n, reflect.ValueOf(out).Elem())
	if err := n.Decode(out); err != nil {
		l.decodeError(err)
	}
}

// resetMaps empties every map field that n sets: yaml.v3 merges a mapping
// into a non-nil map, but a layer that sets a field replaces the value of
// the layer below, maps included.
func resetMaps(n *yaml.Node, v reflect.Value) {
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind != yaml.MappingNode || v.Kind() != reflect.Struct {
		return
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		f, ok := fieldByTag(v.Type(), n.Content[i].Value)
		if !ok {
			continue
		}
		fv := v.FieldByIndex(f.Index)
		if fv.Kind() == reflect.Map {
			fv.SetZero()
			continue
		}
		resetMaps(n.Content[i+1], fv)
	}
}

// checkFields walks the node tree beside the Go type and reports every key
// the type does not have, with the keys it does have. (yaml.v3's
// KnownFields only works on a Decoder, not on Node.Decode.)
func (l *loader) checkFields(n *yaml.Node, t reflect.Type, path string, top bool) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	l.paths[n.Line] = path
	if _, custom := reflect.PointerTo(t).MethodByName("UnmarshalYAML"); custom {
		return
	}
	if t == reflect.TypeOf(yaml.Node{}) {
		return
	}
	switch t.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			if n.Tag == "!!null" {
				return
			}
			l.add(n.Line, path, fmt.Sprintf("must be a mapping with the fields %s", strings.Join(fieldNames(t), ", ")))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			f, ok := fieldByTag(t, k.Value)
			sub := joinPath(path, k.Value)
			if !ok {
				msg := fmt.Sprintf("unknown field %q; valid fields here are %s", k.Value, strings.Join(fieldNames(t), ", "))
				if s := closest(k.Value, fieldNames(t)); s != "" {
					msg = fmt.Sprintf("unknown field %q: did you mean %q? (valid fields here are %s)", k.Value, s, strings.Join(fieldNames(t), ", "))
				}
				l.add(k.Line, path, msg)
				continue
			}
			if top && f.Name == "Environments" {
				if v.Kind != yaml.SequenceNode {
					l.add(v.Line, sub, "must be a list of environments, each starting with '- name: …'")
					continue
				}
				for j, e := range v.Content {
					l.checkFields(e, reflect.TypeOf(Environment{}), fmt.Sprintf("%s[%d]", sub, j), false)
				}
				continue
			}
			if top && f.Name == "Defaults" {
				l.checkFields(v, reflect.TypeOf(Environment{}), sub, false)
				continue
			}
			if top {
				// The other top-level sections decode into the Platform field
				// of the same name.
				pf, _ := fieldByTag(reflect.TypeOf(Platform{}), k.Value)
				l.checkFields(v, pf.Type, sub, false)
				continue
			}
			l.checkFields(v, f.Type, sub, false)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			if n.Tag != "!!null" {
				l.add(n.Line, path, "must be a list")
			}
			return
		}
		for j, e := range n.Content {
			l.checkFields(e, t.Elem(), fmt.Sprintf("%s[%d]", path, j), false)
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			if n.Tag != "!!null" {
				l.add(n.Line, path, "must be a mapping")
			}
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			l.checkFields(n.Content[i+1], t.Elem(), joinPath(path, n.Content[i].Value), false)
		}
	}
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

func yamlName(f reflect.StructField) string {
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	return name
}

func fieldByTag(t reflect.Type, key string) (reflect.StructField, bool) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if n := yamlName(f); n == key && n != "-" {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func fieldNames(t reflect.Type) []string {
	var names []string
	for i := 0; i < t.NumField(); i++ {
		if n := yamlName(t.Field(i)); n != "" && n != "-" {
			names = append(names, n)
		}
	}
	return names
}

// closest returns the valid name nearest to a misspelt one, if any is near.
func closest(s string, names []string) string {
	best, dist := "", 3
	for _, n := range names {
		if d := levenshtein(strings.ToLower(s), strings.ToLower(n)); d < dist {
			best, dist = n, d
		}
	}
	return best
}

func levenshtein(a, b string) int {
	prev := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur := make([]int, len(b)+1)
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(b)]
}

// mappingValue returns the value node of key in a mapping node, or nil.
func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n == nil || n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// nodeAt follows a dotted path of mapping keys from n.
func nodeAt(n *yaml.Node, path string) *yaml.Node {
	for _, k := range strings.Split(path, ".") {
		n = mappingValue(n, k)
		if n == nil {
			return nil
		}
	}
	return n
}
