package invenio

import (
	"fmt"
	"regexp"
	"strings"
	"testing"
)

// nginxBlock is a block of an nginx configuration: its directive name and
// arguments (none for the top level), its simple directives and its
// nested blocks, in order.
type nginxBlock struct {
	Name       string
	Args       []string
	Directives [][]string
	Blocks     []*nginxBlock
	parent     *nginxBlock
}

// parseNginx reads the subset of nginx's syntax the frontend's
// configuration uses: words, quoted strings, comments, ';', '{' and '}'.
func parseNginx(conf string) (*nginxBlock, error) {
	root := &nginxBlock{}
	cur := root
	var words []string
	var word strings.Builder
	inWord := false
	flush := func() {
		if inWord {
			words = append(words, word.String())
			word.Reset()
			inWord = false
		}
	}
	for i := 0; i < len(conf); i++ {
		ch := conf[i]
		switch {
		case ch == '#' && !inWord:
			for i < len(conf) && conf[i] != '\n' {
				i++
			}
		case ch == '\'' || ch == '"':
			j := strings.IndexByte(conf[i+1:], ch)
			if j < 0 {
				return nil, fmt.Errorf("unterminated quote at %d", i)
			}
			word.WriteString(conf[i+1 : i+1+j])
			inWord = true
			i += j + 1
		case ch == ' ' || ch == '\t' || ch == '\n':
			flush()
		case ch == ';':
			flush()
			if len(words) == 0 {
				return nil, fmt.Errorf("empty directive at %d", i)
			}
			cur.Directives = append(cur.Directives, words)
			words = nil
		case ch == '{':
			flush()
			if len(words) == 0 {
				return nil, fmt.Errorf("block without a name at %d", i)
			}
			b := &nginxBlock{Name: words[0], Args: words[1:], parent: cur}
			cur.Blocks = append(cur.Blocks, b)
			cur, words = b, nil
		case ch == '}':
			flush()
			if len(words) > 0 || cur == root {
				return nil, fmt.Errorf("unbalanced '}' at %d", i)
			}
			cur = cur.parent
		default:
			word.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	if cur != root || len(words) > 0 {
		return nil, fmt.Errorf("unterminated block or directive")
	}
	return root, nil
}

// all returns every occurrence of directive name in b itself.
func (b *nginxBlock) all(name string) [][]string {
	var out [][]string
	for _, d := range b.Directives {
		if d[0] == name {
			out = append(out, d[1:])
		}
	}
	return out
}

// effective is the value of directive name that applies in b: its own,
// else the nearest enclosing block's (nginx's inheritance of the
// directives the frontend uses; an add_header in a block hides every
// add_header above it).
func (b *nginxBlock) effective(name string) [][]string {
	for x := b; x != nil; x = x.parent {
		if v := x.all(name); len(v) > 0 {
			return v
		}
	}
	return nil
}

func (b *nginxBlock) blocks(name string) []*nginxBlock {
	var out []*nginxBlock
	for _, c := range b.Blocks {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

// frontendServer parses the frontend's configuration and returns the
// top level and the server on port 8080.
func frontendServer(t *testing.T, conf string) (*nginxBlock, *nginxBlock) {
	t.Helper()
	root, err := parseNginx(conf)
	if err != nil {
		t.Fatalf("default.conf: %v\n%s", err, conf)
	}
	for _, s := range root.blocks("server") {
		if l := s.all("listen"); len(l) == 1 && l[0][0] == "8080" {
			return root, s
		}
	}
	t.Fatalf("default.conf has no server on 8080:\n%s", conf)
	return nil, nil
}

// location finds the location block with exactly these arguments.
func location(t *testing.T, server *nginxBlock, args ...string) *nginxBlock {
	t.Helper()
	for _, l := range server.blocks("location") {
		if strings.Join(l.Args, " ") == strings.Join(args, " ") {
			return l
		}
	}
	t.Fatalf("no location %s", strings.Join(args, " "))
	return nil
}

func TestParseNginx(t *testing.T) {
	root, err := parseNginx("# c\nmap $a $b { default $a; \"\" x; }\nserver {\n  listen 8080; # here\n  location = /h { return 200 'o k'; }\n}\n")
	if err != nil {
		t.Fatal(err)
	}
	s := root.blocks("server")[0]
	h := s.blocks("location")[0]
	got := fmt.Sprint(root.blocks("map")[0].Args, root.blocks("map")[0].Directives, s.all("listen"), h.Args, h.all("return"), h.effective("listen"))
	if want := "[$a $b] [[default $a] [ x]] [[8080]] [= /h] [[200 o k]] [[8080]]"; got != want {
		t.Errorf("parsed %s, want %s", got, want)
	}
	for _, bad := range []string{"a {", "}", "a 'b;", "a"} {
		if _, err := parseNginx(bad); err == nil {
			t.Errorf("%q parsed without an error", bad)
		}
	}
}

// route is the location nginx chooses for uri in server, as nginx does:
// an exact match (=) wins; else the longest prefix, which wins outright
// if it is ^~; else the first regular expression (~, ~*) that matches, in
// file order; else that longest prefix.
func route(t *testing.T, server *nginxBlock, uri string) *nginxBlock {
	t.Helper()
	var prefix *nginxBlock
	prefixLen := -1
	var regexes []*nginxBlock
	for _, l := range server.blocks("location") {
		switch {
		case len(l.Args) == 2 && l.Args[0] == "=":
			if uri == l.Args[1] {
				return l
			}
		case len(l.Args) == 2 && (l.Args[0] == "~" || l.Args[0] == "~*"):
			regexes = append(regexes, l)
		default:
			p := l.Args[len(l.Args)-1]
			if strings.HasPrefix(uri, p) && len(p) > prefixLen {
				prefix, prefixLen = l, len(p)
			}
		}
	}
	if prefix != nil && prefix.Args[0] == "^~" {
		return prefix
	}
	for _, l := range regexes {
		expr := l.Args[1]
		if l.Args[0] == "~*" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			t.Fatalf("location %s: %v", strings.Join(l.Args, " "), err)
		}
		if re.MatchString(uri) {
			return l
		}
	}
	if prefix == nil {
		t.Fatalf("no location matches %s", uri)
	}
	return prefix
}

// one is the single value of directive name effective in b ("" if unset).
func one(t *testing.T, b *nginxBlock, name string) string {
	t.Helper()
	v := b.effective(name)
	switch len(v) {
	case 0:
		return ""
	case 1:
		return strings.Join(v[0], " ")
	}
	t.Fatalf("location %s: %s set %d times", strings.Join(b.Args, " "), name, len(v))
	return ""
}
