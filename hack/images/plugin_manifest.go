package main

import (
	"bytes"
	"errors"
	"fmt"
	"slices"

	"go.yaml.in/yaml/v3"
)

// renderManifest fills the krew manifest template (plugins/jack.yaml) for a
// release: spec.version becomes version, and each platform that was built (a
// key of sums, such as linux/amd64) gets its archive's uri under urlBase and
// its sha256. Platforms that were not built are left out, so that the manifest
// never offers an archive that does not exist; a built platform the template
// lacks, or whose bin is not the binary in its archive, is an error.
func renderManifest(template []byte, version, urlBase string, sums map[string]string) ([]byte, error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(template, &doc); err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, errors.New("is not a YAML mapping")
	}
	root := doc.Content[0]
	spec := lookup(root, "spec")
	if spec == nil || spec.Kind != yaml.MappingNode {
		return nil, errors.New("has no spec")
	}
	v := lookup(spec, "version")
	if v == nil || v.Kind != yaml.ScalarNode {
		return nil, errors.New("has no spec.version")
	}
	v.Value = version
	platforms := lookup(spec, "platforms")
	if platforms == nil || platforms.Kind != yaml.SequenceNode {
		return nil, errors.New("has no spec.platforms list")
	}

	var kept []*yaml.Node
	var seen []string
	for i, p := range platforms.Content {
		labels := lookup(lookup(p, "selector"), "matchLabels")
		goos, goarch := lookup(labels, "os"), lookup(labels, "arch")
		if goos == nil || goarch == nil {
			return nil, fmt.Errorf("spec.platforms[%d] does not select an os and an arch by matchLabels", i)
		}
		platform := goos.Value + "/" + goarch.Value
		sum, built := sums[platform]
		if !built {
			continue
		}
		uri, sha, bin := lookup(p, "uri"), lookup(p, "sha256"), lookup(p, "bin")
		if uri == nil || sha == nil || bin == nil {
			return nil, fmt.Errorf("spec.platforms[%d] (%s) lacks uri, sha256 or bin", i, platform)
		}
		if bin.Value != binaryName(platform) {
			return nil, fmt.Errorf("spec.platforms[%d] (%s) has bin %q, but its archive holds %s", i, platform, bin.Value, binaryName(platform))
		}
		uri.Value = urlBase + "/" + archiveName(platform)
		sha.Value = sum
		kept = append(kept, p)
		seen = append(seen, platform)
	}
	for platform := range sums {
		if !slices.Contains(seen, platform) {
			return nil, fmt.Errorf("has no spec.platforms entry for %s", platform)
		}
	}
	platforms.Content = kept

	// The template's head comment says how it is filled; the filled one says
	// what it is.
	doc.HeadComment, root.HeadComment, root.Content[0].HeadComment = "", "", ""
	doc.HeadComment = fmt.Sprintf("The krew manifest of kubectl-jack %s, rendered from plugins/%s by hack/release.sh plugin\n"+
		"(make plugin-release). Install: kubectl krew install --manifest=%s [--archive=%s]",
		version, pluginManifest, pluginManifest, archiveName("<os>/<arch>"))

	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return out.Bytes(), nil
}

// lookup is key's value in the mapping m, or nil.
func lookup(m *yaml.Node, key string) *yaml.Node {
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
