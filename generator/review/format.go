package review

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Style is how text output is decorated.
type Style struct {
	Color bool // ANSI colours (a terminal, NO_COLOR unset, or --color=always)
}

const (
	ansiReset  = "\x1b[0m"
	ansiBold   = "\x1b[1m"
	ansiRed    = "\x1b[31m"
	ansiGreen  = "\x1b[32m"
	ansiYellow = "\x1b[33m"
	ansiCyan   = "\x1b[36m"
)

func (s Style) paint(color, text string) string {
	if !s.Color {
		return text
	}
	return color + text + ansiReset
}

// Text writes the report for a person at a terminal: per scope its
// summary, the flagged changes, then every object added, removed or
// changed with its changed fields.
func Text(w io.Writer, r Report, s Style) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s → %s\n", s.paint(ansiBold, "diff"), r.Base, r.Head)
	for _, sc := range r.Scopes {
		b.WriteString("\n" + s.paint(ansiBold, sc.Summary()) + "\n")
		if n := sc.Refused(); n > 0 {
			b.WriteString("  " + s.paint(ansiBold+ansiRed, "!! "+refusedWarning(n)) + "\n")
		}
		if len(sc.Flags) > 0 {
			b.WriteString("  flagged:\n")
			for _, f := range sc.Flags {
				fmt.Fprintf(&b, "    %s %s\n", s.paint(ansiYellow, "! "+string(f.Category)), flagText(f))
			}
		}
		for _, line := range detailLines(sc) {
			switch line[0] {
			case '+':
				line = s.paint(ansiGreen, line)
			case '-':
				line = s.paint(ansiRed, line)
			case '~':
				line = s.paint(ansiCyan, line)
			}
			b.WriteString("  " + line + "\n")
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// refusedWarning is the line that stops a reader when a scope has
// changes the API server refuses.
func refusedWarning(n int) string {
	changes := "changes"
	if n == 1 {
		changes = "change"
	}
	return fmt.Sprintf("%d %s the API server refuses (immutable fields): Flux's apply fails until done by hand, see each flag and %s", n, changes, Runbook)
}

func flagText(f Flag) string {
	if f.Object == nil {
		return f.Message
	}
	return f.Object.String() + ": " + f.Message
}

// detailLines lists a scope's objects: "+ added", "- removed", "~ changed"
// followed by its fields, indented.
func detailLines(sc Scope) []string {
	var out []string
	for _, id := range sc.Added {
		out = append(out, "+ "+id.String())
	}
	for _, id := range sc.Removed {
		out = append(out, "- "+id.String())
	}
	for _, c := range sc.Changed {
		out = append(out, "~ "+c.ID.String())
		for _, f := range c.Fields {
			out = append(out, fieldLines(f)...)
		}
	}
	return out
}

// fieldLines prints one changed field: "path: old → new", or for text of
// several lines, the lines that differ.
func fieldLines(f Change) []string {
	note := ""
	if f.Note != "" {
		note = "  (" + f.Note + ")"
	}
	os, oText := f.Old.(string)
	ns, nText := f.New.(string)
	if oText && nText && (strings.Contains(os, "\n") || strings.Contains(ns, "\n")) {
		out := []string{"    " + f.Path + ":" + note}
		for _, l := range lineDiff(os, ns) {
			out = append(out, "      "+l)
		}
		return out
	}
	switch {
	case f.Old == nil:
		return []string{"    " + f.Path + ": added " + render(f.New) + note}
	case f.New == nil:
		return []string{"    " + f.Path + ": removed " + render(f.Old) + note}
	case f.Note == "re-sealed":
		return []string{"    " + f.Path + ": re-sealed"}
	}
	return []string{"    " + f.Path + ": " + render(f.Old) + " → " + render(f.New) + note}
}

// lineDiff lists the lines of a that b drops ("- …") and the lines b adds
// ("+ …"), in order, with "…" between separate hunks.
func lineDiff(a, b string) []string {
	x, y := strings.Split(a, "\n"), strings.Split(b, "\n")
	lcs := lcsTable(x, y)
	var out []string
	gap := false
	emit := func(l string) {
		if gap && len(out) > 0 {
			out = append(out, "…")
		}
		gap = false
		out = append(out, l)
	}
	i, j := 0, 0
	for i < len(x) || j < len(y) {
		switch {
		case i < len(x) && j < len(y) && x[i] == y[j]:
			gap = true
			i, j = i+1, j+1
		case i < len(x) && (j == len(y) || lcs[i+1][j] >= lcs[i][j+1]):
			emit("- " + x[i])
			i++
		default:
			emit("+ " + y[j])
			j++
		}
	}
	return out
}

// Marker starts every Markdown report, so CI can find and update its own
// pull-request comment.
const Marker = "<!-- platformctl-diff -->"

// markdownDetailsLimit keeps a comment under the forges' size limits
// (GitHub: 65536 characters): a scope's details beyond it are cut.
const markdownDetailsLimit = 15000

// Markdown writes the report as a pull-request comment: a table of
// summaries, then per scope with changes a heading, the flagged changes,
// and the details in a collapsed block.
func Markdown(w io.Writer, r Report) error {
	var b strings.Builder
	b.WriteString(Marker + "\n")
	fmt.Fprintf(&b, "## platformctl diff: %s → %s\n\n", mdEscape(r.Base), mdEscape(r.Head))
	b.WriteString("| environment | added | removed | changed | flagged | immutable |\n|---|---:|---:|---:|---:|---:|\n")
	for _, sc := range r.Scopes {
		immutable := fmt.Sprint(sc.Refused())
		if sc.Refused() > 0 {
			immutable = "**" + immutable + "**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %s |\n", mdEscape(sc.Name), len(sc.Added), len(sc.Removed), len(sc.Changed), len(sc.Flags), immutable)
	}
	if n := r.Refused(); n > 0 {
		fmt.Fprintf(&b, "\n> [!CAUTION]\n> **%s**\n", mdEscape(refusedWarning(n)))
	}
	if !r.Changes() {
		b.WriteString("\nNo changes.\n")
	}
	for _, sc := range r.Scopes {
		if sc.Empty() {
			continue
		}
		fmt.Fprintf(&b, "\n### %s\n\n", mdEscape(sc.Summary()))
		if n := sc.Refused(); n > 0 {
			fmt.Fprintf(&b, "**%s**\n\n", mdEscape(refusedWarning(n)))
		}
		if len(sc.Flags) > 0 {
			b.WriteString("**Flagged**\n\n")
			for _, f := range sc.Flags {
				obj := ""
				if f.Object != nil {
					obj = "`" + f.Object.String() + "`: "
				}
				fmt.Fprintf(&b, "- **%s** %s%s\n", f.Category, obj, mdEscape(f.Message))
			}
			b.WriteString("\n")
		}
		details := strings.Join(detailLines(sc), "\n")
		if len(details) > markdownDetailsLimit {
			cut := strings.LastIndex(details[:markdownDetailsLimit], "\n")
			details = details[:cut] + "\n… cut here; run `platformctl diff --env " + sc.Name + "` for the rest"
		}
		fence := "```"
		for strings.Contains(details, fence) {
			fence += "`"
		}
		fmt.Fprintf(&b, "<details><summary>%d added, %d removed, %d changed objects</summary>\n\n%sdiff\n%s\n%s\n\n</details>\n",
			len(sc.Added), len(sc.Removed), len(sc.Changed), fence, details, fence)
	}
	_, err := io.WriteString(w, b.String())
	return err
}

var mdEscaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "`", "\\`", "<", "&lt;", ">", "&gt;", "|", `\|`, "[", `\[`, "]", `\]`)

func mdEscape(s string) string { return mdEscaper.Replace(s) }

// JSONSchema names the version of the JSON output; it changes only when a
// field changes meaning or goes away.
const JSONSchema = "platformctl-diff/v1"

type jsonReport struct {
	Schema       string      `json:"schema"`
	Base         string      `json:"base"`
	Head         string      `json:"head"`
	Changes      bool        `json:"changes"`
	Immutable    bool        `json:"immutable"` // some change is one the API server refuses (= --exit-code's 3)
	Environments []jsonScope `json:"environments"`
}

type jsonScope struct {
	Name    string       `json:"name"`
	Summary jsonSummary  `json:"summary"`
	Flagged []jsonFlag   `json:"flagged"`
	Objects []jsonObject `json:"objects"`
}

type jsonSummary struct {
	Added     int `json:"added"`
	Removed   int `json:"removed"`
	Changed   int `json:"changed"`
	Flagged   int `json:"flagged"`
	Immutable int `json:"immutable"`
}

type jsonFlag struct {
	Category Category `json:"category"`
	Object   *ID      `json:"object,omitempty"`
	Objects  []ID     `json:"objects,omitempty"`
	Message  string   `json:"message"`
	Runbook  string   `json:"runbook,omitempty"`
}

type jsonObject struct {
	Change string      `json:"change"` // added, removed, changed
	Object ID          `json:"object"`
	Fields []jsonField `json:"fields,omitempty"`
}

type jsonField struct {
	Path string `json:"path"`
	Old  any    `json:"old,omitempty"`
	New  any    `json:"new,omitempty"`
	Note string `json:"note,omitempty"`
}

// JSON writes the report for tools (schema: docs/diff.md).
func JSON(w io.Writer, r Report) error {
	out := jsonReport{Schema: JSONSchema, Base: r.Base, Head: r.Head, Changes: r.Changes(), Immutable: r.Refused() > 0, Environments: []jsonScope{}}
	for _, sc := range r.Scopes {
		js := jsonScope{
			Name:    sc.Name,
			Summary: jsonSummary{len(sc.Added), len(sc.Removed), len(sc.Changed), len(sc.Flags), sc.Refused()},
			Flagged: []jsonFlag{},
			Objects: []jsonObject{},
		}
		for _, f := range sc.Flags {
			js.Flagged = append(js.Flagged, jsonFlag{Category: f.Category, Object: f.Object, Objects: f.Objects, Message: f.Message, Runbook: f.Runbook})
		}
		for _, id := range sc.Added {
			js.Objects = append(js.Objects, jsonObject{Change: "added", Object: id})
		}
		for _, id := range sc.Removed {
			js.Objects = append(js.Objects, jsonObject{Change: "removed", Object: id})
		}
		for _, c := range sc.Changed {
			o := jsonObject{Change: "changed", Object: c.ID}
			for _, f := range c.Fields {
				o.Fields = append(o.Fields, jsonField(f))
			}
			js.Objects = append(js.Objects, o)
		}
		out.Environments = append(out.Environments, js)
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(out)
}
