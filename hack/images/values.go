package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// setValues is `images values FILE KEY=VALUE...`: it sets each dotted KEY of
// the YAML file FILE to the string VALUE, keeping the file's comments, and
// refuses a key the file does not have (a typo, or a chart that changed).
func setValues(args []string) error {
	if len(args) < 2 {
		return errors.New("usage: images values FILE KEY=VALUE... (e.g. image.digest=sha256:...)")
	}
	file := args[0]
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	out, err := editValues(data, args[1:])
	if err != nil {
		return fmt.Errorf("%s: %w", file, err)
	}
	return os.WriteFile(file, out, 0o644)
}

func editValues(data []byte, sets []string) ([]byte, error) {
	lines := strings.Split(string(data), "\n")
	for _, set := range sets {
		key, value, ok := strings.Cut(set, "=")
		if !ok || key == "" {
			return nil, fmt.Errorf("%q is not KEY=VALUE", set)
		}
		// Parsed anew for each key: the previous edit moved what follows it.
		var doc yaml.Node
		if err := yaml.Unmarshal([]byte(strings.Join(lines, "\n")), &doc); err != nil {
			return nil, err
		}
		if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
			return nil, errors.New("is not a YAML mapping")
		}
		node := doc.Content[0]
		for _, part := range strings.Split(key, ".") {
			if node.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("%s: a parent of %q is not a mapping", key, part)
			}
			var next *yaml.Node
			for i := 0; i+1 < len(node.Content); i += 2 {
				if node.Content[i].Value == part {
					next = node.Content[i+1]
					break
				}
			}
			if next == nil {
				return nil, fmt.Errorf("has no key %s", key)
			}
			node = next
		}
		if node.Kind != yaml.ScalarNode || strings.ContainsAny(node.Value, "\n") {
			return nil, fmt.Errorf("%s is not a single value on one line", key)
		}
		// Replace the value's text in place, so that everything else of the
		// file (comments, blank lines, quoting) stays as it is.
		if err := replaceScalar(lines, node, strconv.Quote(value)); err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
	}
	return []byte(strings.Join(lines, "\n")), nil
}

// replaceScalar replaces the text of the one-line scalar node in lines with
// text.
func replaceScalar(lines []string, node *yaml.Node, text string) error {
	if node.Line < 1 || node.Line > len(lines) {
		return errors.New("the value's line is outside the file")
	}
	line := lines[node.Line-1]
	start := node.Column - 1
	if start < 0 || start > len(line) {
		return errors.New("the value's column is outside its line")
	}
	rest := line[start:]
	var n int
	switch node.Style {
	case yaml.DoubleQuotedStyle:
		// The closing quote is the first one not escaped by a backslash.
		n = -1
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\\' {
				i++
				continue
			}
			if rest[i] == '"' {
				n = i + 1
				break
			}
		}
	case yaml.SingleQuotedStyle:
		n = -1
		for i := 1; i < len(rest); i++ {
			if rest[i] == '\'' {
				if i+1 < len(rest) && rest[i+1] == '\'' {
					i++
					continue
				}
				n = i + 1
				break
			}
		}
	case 0:
		n = len(rest)
		if i := strings.Index(rest, " #"); i >= 0 {
			n = i
		}
		n = len(strings.TrimRight(rest[:n], " \t"))
	default:
		return errors.New("only plain or quoted values can be set")
	}
	if n < 0 {
		return errors.New("the quoted value does not end on its line")
	}
	lines[node.Line-1] = line[:start] + text + rest[n:]
	return nil
}
