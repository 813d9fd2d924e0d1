package config

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// source is the parsed file a Platform was loaded from, kept so that
// problems found later (in what the generator derives from a value) can
// still name the line the value came from.
type source struct {
	root, defaults *yaml.Node
	envs           []*yaml.Node
}

// Field is one string value of the description and where it sits.
type Field struct {
	Path  string // e.g. environments[1].name
	Value string
}

// Fields lists every non-empty string value of the resolved description
// (site, gitops, infrastructure and each environment; map keys and values
// as path.key), in a fixed order. The generator uses it to say which
// description value a derived name or label came from.
func (p *Platform) Fields() []Field {
	var out []Field
	walkStrings(reflect.ValueOf(p.Site), "site", &out)
	walkStrings(reflect.ValueOf(p.GitOps), "gitops", &out)
	walkStrings(reflect.ValueOf(p.Infrastructure), "infrastructure", &out)
	for i, e := range p.Environments {
		walkStrings(reflect.ValueOf(e), fmt.Sprintf("environments[%d]", i), &out)
	}
	return out
}

func walkStrings(v reflect.Value, path string, out *[]Field) {
	switch v.Kind() {
	case reflect.String:
		if s := v.String(); s != "" {
			*out = append(*out, Field{path, s})
		}
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, out)
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			tag := strings.Split(t.Field(i).Tag.Get("yaml"), ",")[0]
			if tag == "-" || !t.Field(i).IsExported() {
				continue
			}
			if tag == "" { // embedded, e.g. Quantity's resource.Quantity
				continue
			}
			walkStrings(v.Field(i), path+"."+tag, out)
		}
	case reflect.Slice:
		for i := 0; i < v.Len(); i++ {
			walkStrings(v.Index(i), path+"["+strconv.Itoa(i)+"]", out)
		}
	case reflect.Map:
		iter := v.MapRange()
		var keys []string
		vals := map[string]reflect.Value{}
		for iter.Next() {
			k := fmt.Sprint(iter.Key().Interface())
			keys = append(keys, k)
			vals[k] = iter.Value()
		}
		slices.Sort(keys)
		for _, k := range keys {
			*out = append(*out, Field{path + "." + k, k})
			walkStrings(vals[k], path+"."+k, out)
		}
	}
}

// Line is the line of the file that sets path (a Field path such as
// "environments[1].sealing.controllerName"): in the environment, else in
// defaults:, else the line of the nearest enclosing mapping that is there,
// else the environment's first line (or 1). It is 0 for a Platform not
// loaded from a file.
func (p *Platform) Line(path string) int {
	line, _ := p.locate(path)
	return line
}

// locate is Line, and the path as the file spells it: a value an
// environment inherits is shown where it is written, defaults.<field>.
func (p *Platform) locate(path string) (int, string) {
	if p.src == nil {
		return 0, path
	}
	if rest, ok := strings.CutPrefix(path, "environments["); ok {
		i, field, _ := strings.Cut(rest, "].")
		n, err := strconv.Atoi(i)
		if err != nil || n < 0 || n >= len(p.src.envs) {
			return 1, path
		}
		for f := field; f != ""; {
			if x := nodeAt(p.src.envs[n], f); x != nil {
				return x.Line, path
			}
			if x := nodeAt(p.src.defaults, f); x != nil {
				return x.Line, "defaults." + field
			}
			j := strings.LastIndex(f, ".")
			if j < 0 {
				break
			}
			f = f[:j]
		}
		return p.src.envs[n].Line, path
	}
	for f := path; f != ""; {
		if x := nodeAt(p.src.root, f); x != nil {
			return x.Line, path
		}
		j := strings.LastIndex(f, ".")
		if j < 0 {
			break
		}
		f = f[:j]
	}
	return 1, path
}

// Problem is a problem of p at the line that sets path, as an *Error.
func (p *Platform) Problem(path, msg string) *Error {
	line, shown := p.locate(path)
	return &Error{File: p.File, Problems: []Problem{{Line: line, Path: shown, Msg: msg}}}
}
