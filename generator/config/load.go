package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

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

// Load reads and validates the description at path. Every error names
// path as given: "<path>: no such file or directory" when it cannot be
// read, else an *Error.
func Load(path string) (*Platform, error) {
	data, err := Read(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Read reads the description file at path; its error names the file
// and why (errors.Is fs.ErrNotExist holds for a missing file).
func Read(path string) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			// os names the system call ("open platform.yaml: …"); the reader
			// wants the file and why.
			return nil, fmt.Errorf("%s: %w", path, pe.Err)
		}
		return nil, err
	}
	return data, nil
}

// topLevel is the shape of the file before layering.
type topLevel struct {
	Site           yaml.Node   `yaml:"site"`
	Defaults       yaml.Node   `yaml:"defaults"`
	Environments   []yaml.Node `yaml:"environments"`
	GitOps         yaml.Node   `yaml:"gitops"`
	Infrastructure yaml.Node   `yaml:"infrastructure"`
	Clusters       []yaml.Node `yaml:"clusters"`
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
		l.decodeError(err, root)
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
	for i := range top.Clusters {
		c := DefaultCluster()
		l.decode(&top.Clusters[i], &c)
		c.Line = top.Clusters[i].Line
		p.Clusters = append(p.Clusters, c)
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
	lines    [][]byte // the file's lines, for the messages yaml.v3 gives no line or a wrong one
	problems []Problem
	paths    map[int]string // line → path of the value on it (for decode errors)
}

func (l *loader) add(line int, path, msg string) {
	// Every message the loader makes has a line; this only keeps a message
	// found without one pointing into the file.
	line = max(line, 1)
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

const emptyMsg = "the description is empty: start from the platform.yaml in the repository root"

func (l *loader) document(data []byte) (*yaml.Node, error) {
	l.lines = bytes.SplitAfter(data, []byte("\n"))
	if !l.text(data) {
		return nil, l.err()
	}
	// A '---' with nothing under it (after the description, or before
	// it) is an empty document, not a second description: only the
	// documents with content count.
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root *yaml.Node
	for {
		var doc yaml.Node
		if err := dec.Decode(&doc); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			l.syntaxError(err)
			return nil, l.err()
		}
		if len(doc.Content) == 0 {
			continue
		}
		if n := doc.Content[0]; n.Kind == yaml.ScalarNode && n.Tag == "!!null" && n.Value == "" {
			continue // a lone '---', or comments under one
		}
		if root != nil {
			l.add(doc.Line, "", fmt.Sprintf("the description must be a single YAML document, but a second one starts here (the first is at line %d): remove this '---' and what follows it, or merge it into the first", root.Line))
			return nil, l.err()
		}
		root = doc.Content[0]
	}
	if root == nil {
		l.add(1, "", emptyMsg)
		return nil, l.err()
	}
	if root.Kind != yaml.MappingNode {
		l.add(root.Line, "", "the description must be a mapping with site, defaults and environments")
		return nil, l.err()
	}
	return root, nil
}

var lineMsg = regexp.MustCompile(`^(?:yaml: )?(?:line (\d+): )?(.*)$`)

// splitLine splits one of yaml.v3's messages into its line (0 when it
// gives none) and text.
func splitLine(m string) (int, string) {
	sub := lineMsg.FindStringSubmatch(m)
	line, _ := strconv.Atoi(sub[1])
	return line, sub[2]
}

// text reports, at its line, the first thing that makes data no YAML text
// at all, which yaml.v3 reports without a line (or, for UTF-16, decodes
// into something else): a NUL byte (a binary file), bytes that are not
// UTF-8, a control character YAML does not allow.
func (l *loader) text(data []byte) bool {
	if bytes.HasPrefix(data, []byte{0xFF, 0xFE}) || bytes.HasPrefix(data, []byte{0xFE, 0xFF}) {
		l.add(1, "", "the file is UTF-16 text: save it as UTF-8")
		return false
	}
	// line and column (in characters, an invalid byte counting as one) of
	// byte offset i.
	at := func(i int) (int, int) {
		start := bytes.LastIndexByte(data[:i], '\n') + 1
		return bytes.Count(data[:i], []byte("\n")) + 1, utf8.RuneCount(data[start:i]) + 1
	}
	if i := bytes.IndexByte(data, 0); i >= 0 {
		line, _ := at(i)
		l.add(line, "", fmt.Sprintf("not a text file (a NUL byte, byte %d of the file): the description is YAML text; check that this is the file you meant", i+1))
		return false
	}
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			line, col := at(i)
			l.add(line, "", fmt.Sprintf("not UTF-8 (byte 0x%02X in column %d): save the file as UTF-8", data[i], col))
			return false
		case !yamlPrintable(r):
			line, col := at(i)
			l.add(line, "", fmt.Sprintf("a control character (%U) in column %d: YAML text holds none; delete it", r, col))
			return false
		}
		i += size
	}
	return true
}

// yamlPrintable is YAML 1.2's c-printable (the characters yaml.v3's reader
// accepts).
func yamlPrintable(r rune) bool {
	return r == '\t' || r == '\n' || r == '\r' || r == 0x85 ||
		0x20 <= r && r <= 0x7E || 0xA0 <= r && r <= 0xD7FF || 0xE000 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0x10FFFF
}

const tabMsg = "a tab in the indentation: YAML indents with spaces; replace the tab with spaces"

// syntaxFixes says what to do about yaml.v3's syntax errors. Its line is
// sometimes the line of what encloses the mistake, hence "here" is loose.
var syntaxFixes = map[string]string{
	"did not find expected key":                      "check the indentation: the keys of one mapping start in the same column",
	"mapping values are not allowed in this context": "quote a value that holds ': ', and start each key in the column of its mapping's other keys",
	"found unexpected end of stream":                 "close the quote or bracket opened here",
	"did not find expected ',' or ']'":               "close the '[' opened here with ']'",
	"did not find expected ',' or '}'":               "close the '{' opened here with '}'",
	"did not find expected '-' indicator":            "start every entry of a list with '- ' in the same column",
	"did not find expected node content":             "a value is missing here, or a bracket is not closed",
	"found character that cannot start any token":    "quote a value that starts with @, ` or %",
	"found unknown escape character":                 `in double quotes write \\ for a backslash, or use single quotes`,
	"did not find URI escaped octet":                 "quote the value: an unquoted '!' starts a YAML tag",
}

var unknownAnchor = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxError reports an error of yaml.v3's parser with the file, a line
// and what to do, keeping yaml.v3's text.
func (l *loader) syntaxError(err error) {
	line, m := splitLine(err.Error())
	if line == 0 {
		// yaml.v3 leaves the line out when its mark is on the first one.
		line = 1
	}
	if m == "found character that cannot start any token" && l.tabIndented(line) {
		l.add(line, "", tabMsg)
		return
	}
	if m == "found a tab character that violates indentation" {
		// yaml.v3 names the line before the tab's, and blank lines before it
		// push the tab further.
		for n := line; n <= len(l.lines); n++ {
			if l.tabIndented(n) {
				l.add(n, "", tabMsg)
				return
			}
		}
	}
	if sub := unknownAnchor.FindStringSubmatch(m); sub != nil {
		alias := regexp.MustCompile(`\*` + regexp.QuoteMeta(sub[1]) + `(?:[\s,\]}]|$)`)
		for n, text := range l.lines {
			if alias.Match(text) {
				line = n + 1
				break
			}
		}
		l.add(line, "", fmt.Sprintf("%s: define the anchor (&%s) on a value above this line, or write the value here", m, sub[1]))
		return
	}
	fix, ok := syntaxFixes[m]
	if !ok {
		fix = "check the YAML syntax here and on the line above"
	}
	l.add(line, "", m+": "+fix)
}

// tabIndented reports whether the indentation of line n holds a tab (a
// line of nothing but blanks included: yaml.v3 rejects those too).
func (l *loader) tabIndented(n int) bool {
	if n < 1 || n > len(l.lines) {
		return false
	}
	text := l.lines[n-1]
	indent := text[:len(text)-len(bytes.TrimLeft(text, " \t"))]
	return bytes.IndexByte(indent, '\t') >= 0
}

var (
	intoType  = regexp.MustCompile(` into (\S+)$`)
	badTag    = regexp.MustCompile("^cannot decode !!\\w+ `(.*)` as a (!!\\w+)$")
	typeFixes = map[string]string{
		"bool": "write true or false", "string": "write text (quoted)", "float64": "write a number",
		"int": "write a whole number", "int32": "write a whole number", "int64": "write a whole number",
		"uint": "write a whole number", "uint32": "write a whole number", "uint64": "write a whole number",
	}
)

// decodeError turns yaml.v3's messages of decoding n into problems with a
// line, a path and what to do.
func (l *loader) decodeError(err error, n *yaml.Node) {
	var te *yaml.TypeError
	msgs := []string{err.Error()}
	if errors.As(err, &te) {
		msgs = te.Errors
	}
	for _, m := range msgs {
		line, m := splitLine(m)
		if strings.HasPrefix(m, "cannot unmarshal") && l.hasProblemAt(line) {
			continue // checkFields already said what shape belongs here
		}
		if line == 0 {
			line, m = locate(n, m)
		} else if strings.HasPrefix(m, "cannot unmarshal") {
			fix := "see docs/platform-reference.md for what this field takes"
			if sub := intoType.FindStringSubmatch(m); sub != nil && typeFixes[sub[1]] != "" {
				fix = typeFixes[sub[1]]
			}
			m = strings.ReplaceAll(m, "cannot unmarshal !!", "cannot read a YAML ") + ": " + fix
		}
		l.add(line, l.paths[line], m)
	}
}

// locate finds, below n, the node of a decoding error yaml.v3 gave no line
// for, and says what to do; n's own line when no node fits.
func locate(n *yaml.Node, m string) (int, string) {
	if m == "map merge requires map or sequence of maps as the value" {
		if k := find(n, func(k, v *yaml.Node) bool { return k != nil && k.Value == "<<" && !mergeable(v) }); k != nil {
			return k.Line, m + ": write '<<: *name' after an anchor &name on a mapping"
		}
	}
	if sub := badTag.FindStringSubmatch(m); sub != nil {
		if v := find(n, func(_, v *yaml.Node) bool { return v.Tag == sub[2] && v.Value == sub[1] }); v != nil {
			return v.Line, m + ": remove the tag " + sub[2]
		}
	}
	return n.Line, m + ": check the YAML of this section"
}

// mergeable reports whether v may follow '<<': a mapping or a list of
// mappings, directly or through aliases.
func mergeable(v *yaml.Node) bool {
	deref := func(n *yaml.Node) *yaml.Node {
		if n.Kind == yaml.AliasNode {
			return n.Alias
		}
		return n
	}
	v = deref(v)
	if v.Kind == yaml.SequenceNode {
		for _, e := range v.Content {
			if deref(e).Kind != yaml.MappingNode {
				return false
			}
		}
		return true
	}
	return v.Kind == yaml.MappingNode
}

// find returns the first node below n (depth first) for which ok holds,
// given with its key when it is the value of a mapping.
func find(n *yaml.Node, ok func(key, value *yaml.Node) bool) *yaml.Node {
	if ok(nil, n) {
		return n
	}
	for i, c := range n.Content {
		if n.Kind == yaml.MappingNode && i%2 == 1 && ok(n.Content[i-1], c) {
			return n.Content[i-1]
		}
		if r := find(c, ok); r != nil {
			return r
		}
	}
	return nil
}

func (l *loader) decode(n *yaml.Node, out any) {
	if n.Kind == 0 {
		return // section absent
	}
	resetMaps(n, reflect.ValueOf(out).Elem())
	if err := n.Decode(out); err != nil {
		l.decodeError(err, n)
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
