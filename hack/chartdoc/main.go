// Command chartdoc writes the chart's README (charts/jack-operator/README.md)
// from README.md.tmpl and the comments in values.yaml, so that the values'
// documentation lives in one place, beside the values. `make manifests` runs
// it; `make verify` fails when its output is not committed.
//
// A comment starting with "# --" right above a key documents it; the lines
// of the comment that follow continue the description (a blank comment line
// starts a new paragraph, and indented lines are kept as written). A
// documented map or list is one row, its whole default shown; an
// undocumented map is walked into, and an undocumented value is listed
// with its default and no description.
//
// usage: go run ./hack/chartdoc   (from the repository root)
// usage: go run ./hack/chartdoc -check   (fails when the README is stale)
package main

import (
	"bytes"
	"flag"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"go.yaml.in/yaml/v3"
)

const (
	chartDir     = "charts/jack-operator"
	templateFile = "hack/chartdoc/README.md.tmpl"
)

func main() {
	check := flag.Bool("check", false, "fail, without writing, when the README differs from what would be written")
	flag.Parse()
	if err := run(*check); err != nil {
		fmt.Fprintln(os.Stderr, "chartdoc:", err)
		os.Exit(1)
	}
}

func run(check bool) error {
	values, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		return err
	}
	chart, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		return err
	}
	tmpl, err := os.ReadFile(templateFile)
	if err != nil {
		return err
	}
	out, err := render(string(tmpl), chart, values)
	if err != nil {
		return err
	}
	readme := filepath.Join(chartDir, "README.md")
	if check {
		have, _ := os.ReadFile(readme)
		if !bytes.Equal(have, out) {
			return fmt.Errorf("%s is out of date: run `make manifests` (go run ./hack/chartdoc)", readme)
		}
		return nil
	}
	return os.WriteFile(readme, out, 0o644)
}

// Row is one documented value.
type Row struct {
	Key, Type, Default, Description string
}

// render fills the README template with the chart's metadata and the
// values' table.
func render(tmpl string, chartYAML, valuesYAML []byte) ([]byte, error) {
	var chart map[string]any
	if err := yaml.Unmarshal(chartYAML, &chart); err != nil {
		return nil, fmt.Errorf("Chart.yaml: %w", err)
	}
	rows, err := Rows(valuesYAML)
	if err != nil {
		return nil, err
	}
	t, err := template.New("README").Funcs(template.FuncMap{"cell": cell}).Parse(tmpl)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", templateFile, err)
	}
	var b bytes.Buffer
	if err := t.Execute(&b, map[string]any{"Chart": chart, "Rows": rows}); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// Rows lists the values of a values.yaml in file order.
func Rows(valuesYAML []byte) ([]Row, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(valuesYAML, &doc); err != nil {
		return nil, fmt.Errorf("values.yaml: %w", err)
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("values.yaml is not a map")
	}
	var rows []Row
	walk(doc.Content[0], "", &rows)
	return rows, nil
}

func walk(m *yaml.Node, prefix string, rows *[]Row) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		k, v := m.Content[i], m.Content[i+1]
		key := prefix + k.Value
		desc, documented := description(k.HeadComment)
		if v.Kind == yaml.MappingNode && len(v.Content) > 0 && !documented {
			walk(v, key+".", rows)
			continue
		}
		*rows = append(*rows, Row{Key: key, Type: typeOf(v), Default: defaultOf(v), Description: desc})
	}
}

// description is the text of the last "# --" comment in a key's head
// comment; false when there is none.
func description(head string) (string, bool) {
	lines := strings.Split(head, "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "# --") {
			start = i
		}
	}
	if start < 0 {
		return "", false
	}
	var paras []string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			paras = append(paras, strings.Join(cur, " "))
			cur = nil
		}
	}
	for i, l := range lines[start:] {
		l = html.EscapeString(strings.TrimPrefix(strings.TrimSpace(l), "#"))
		if i == 0 {
			l = strings.TrimPrefix(l, " --")
		}
		switch {
		case strings.TrimSpace(l) == "":
			flush()
		case strings.HasPrefix(l, "   "):
			// An indented line (a list of choices) keeps its own line.
			flush()
			cur = append(cur, strings.TrimSpace(l))
			flush()
		default:
			cur = append(cur, strings.TrimSpace(l))
		}
	}
	flush()
	return strings.Join(paras, "<br>"), true
}

func typeOf(v *yaml.Node) string {
	switch v.Kind {
	case yaml.MappingNode:
		return "object"
	case yaml.SequenceNode:
		return "list"
	}
	switch v.Tag {
	case "!!str":
		return "string"
	case "!!int":
		return "int"
	case "!!bool":
		return "bool"
	case "!!float":
		return "float"
	case "!!null":
		return "null"
	}
	return v.Tag
}

// defaultOf is a value as it would be written in flow style on one line.
func defaultOf(v *yaml.Node) string {
	if v.Kind == yaml.ScalarNode && v.Tag == "!!str" {
		return fmt.Sprintf("%q", v.Value)
	}
	c := *v
	c.HeadComment, c.LineComment, c.FootComment = "", "", ""
	setFlow(&c)
	b, err := yaml.Marshal(&c)
	if err != nil {
		return v.Value
	}
	return strings.TrimSpace(string(b))
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	content := make([]*yaml.Node, len(n.Content))
	for i, c := range n.Content {
		cc := *c
		cc.HeadComment, cc.LineComment, cc.FootComment = "", "", ""
		setFlow(&cc)
		content[i] = &cc
	}
	n.Content = content
}

// cell escapes text for a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(s, "|", `\|`)
}
