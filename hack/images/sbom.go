package main

import (
	"bytes"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// The parts of SPDX 2.3 (https://spdx.github.io/spdx-spec/v2.3/) an SBOM of a
// Go binary needs.
type spdxDocument struct {
	SPDXVersion       string             `json:"spdxVersion"`
	DataLicense       string             `json:"dataLicense"`
	SPDXID            string             `json:"SPDXID"`
	Name              string             `json:"name"`
	DocumentNamespace string             `json:"documentNamespace"`
	CreationInfo      spdxCreationInfo   `json:"creationInfo"`
	Packages          []spdxPackage      `json:"packages"`
	Relationships     []spdxRelationship `json:"relationships"`
}

type spdxCreationInfo struct {
	Created  string   `json:"created"`
	Creators []string `json:"creators"`
}

type spdxPackage struct {
	Name             string            `json:"name"`
	SPDXID           string            `json:"SPDXID"`
	VersionInfo      string            `json:"versionInfo,omitempty"`
	Supplier         string            `json:"supplier,omitempty"`
	DownloadLocation string            `json:"downloadLocation"`
	FilesAnalyzed    bool              `json:"filesAnalyzed"`
	Checksums        []spdxChecksum    `json:"checksums,omitempty"`
	LicenseConcluded string            `json:"licenseConcluded,omitempty"`
	LicenseDeclared  string            `json:"licenseDeclared,omitempty"`
	CopyrightText    string            `json:"copyrightText,omitempty"`
	PrimaryPurpose   string            `json:"primaryPackagePurpose,omitempty"`
	Comment          string            `json:"comment,omitempty"`
	ExternalRefs     []spdxExternalRef `json:"externalRefs,omitempty"`
	Annotations      []spdxAnnotation  `json:"annotations,omitempty"`
}

type spdxChecksum struct {
	Algorithm string `json:"algorithm"`
	Value     string `json:"checksumValue"`
}

type spdxExternalRef struct {
	Category string `json:"referenceCategory"`
	Type     string `json:"referenceType"`
	Locator  string `json:"referenceLocator"`
}

type spdxAnnotation struct {
	Annotator string `json:"annotator"`
	Date      string `json:"annotationDate"`
	Type      string `json:"annotationType"`
	Comment   string `json:"comment"`
}

type spdxRelationship struct {
	Element string `json:"spdxElementId"`
	Type    string `json:"relationshipType"`
	Related string `json:"relatedSpdxElement"`
}

const (
	sbomCreator = "Tool: jack-operator-hack-images"
	// buildSettingPrefix starts the annotation comment of each Go build
	// setting (-ldflags, CGO_ENABLED, GOARCH, vcs.revision, ...).
	buildSettingPrefix = "go build setting: "
)

var spdxIDUnsafe = regexp.MustCompile(`[^A-Za-z0-9.-]+`)

// makeSBOM is the SPDX document of the Go binary data, built for platform p:
// the image's binary as a package, its main module, the Go standard library
// of the toolchain that built it, and every module it links, with versions and
// go.sum hashes (as SHA-256 checksums), all from the binary's build info.
func makeSBOM(im image, version string, created time.Time, p v1.Platform, data []byte) ([]byte, error) {
	info, err := buildinfo.Read(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("reading its Go build info: %w", err)
	}
	sum := sha256.Sum256(data)
	date := created.UTC().Format(time.RFC3339)
	arch := p.Architecture
	if p.Variant != "" {
		arch += "-" + p.Variant
	}
	doc := spdxDocument{
		SPDXVersion: "SPDX-2.3",
		DataLicense: "CC0-1.0",
		SPDXID:      "SPDXRef-DOCUMENT",
		Name:        fmt.Sprintf("%s-%s-%s-%s", im.name, version, p.OS, arch),
		// Unique per binary, and the same for the same binary.
		DocumentNamespace: fmt.Sprintf("%s/spdx/%s/%s/%s-%s/%s", sourceURL, im.name, version, p.OS, arch, hex.EncodeToString(sum[:])),
		CreationInfo:      spdxCreationInfo{Created: date, Creators: []string{sbomCreator}},
	}

	bin := spdxPackage{
		Name:             im.binary[1:],
		SPDXID:           "SPDXRef-Package-binary",
		VersionInfo:      version,
		DownloadLocation: "NOASSERTION",
		Checksums:        []spdxChecksum{{"SHA256", hex.EncodeToString(sum[:])}},
		PrimaryPurpose:   "APPLICATION",
		Comment:          fmt.Sprintf("%s in the image %s, built from the package %s with %s", im.binary, im.name, info.Path, info.GoVersion),
	}
	settings := info.Settings
	// With -trimpath, go build leaves -ldflags out of the build info (they
	// may hold paths); they are hack/images's own, so say them.
	if !slices.ContainsFunc(settings, func(s debug.BuildSetting) bool { return s.Key == "-ldflags" }) {
		settings = append(slices.Clone(settings), debug.BuildSetting{Key: "-ldflags", Value: ldflags(version)})
	}
	for _, s := range settings {
		bin.Annotations = append(bin.Annotations, spdxAnnotation{
			Annotator: sbomCreator, Date: date, Type: "OTHER",
			Comment: buildSettingPrefix + s.Key + "=" + s.Value,
		})
	}
	mainMod := spdxPackage{
		Name:             info.Main.Path,
		SPDXID:           "SPDXRef-Package-main",
		VersionInfo:      version,
		DownloadLocation: "git+" + sourceURL,
		LicenseDeclared:  licenses,
		PrimaryPurpose:   "SOURCE",
		ExternalRefs:     []spdxExternalRef{purl(info.Main.Path, version)},
	}
	std := spdxPackage{
		Name:             "stdlib",
		SPDXID:           "SPDXRef-Package-stdlib",
		VersionInfo:      info.GoVersion,
		DownloadLocation: "NOASSERTION",
		PrimaryPurpose:   "LIBRARY",
		Comment:          "the Go standard library and runtime of the toolchain that built the binary",
		ExternalRefs:     []spdxExternalRef{purl("stdlib", info.GoVersion)},
	}
	doc.Packages = []spdxPackage{bin, mainMod, std}
	doc.Relationships = []spdxRelationship{
		{"SPDXRef-DOCUMENT", "DESCRIBES", bin.SPDXID},
		{bin.SPDXID, "GENERATED_FROM", mainMod.SPDXID},
		{bin.SPDXID, "DEPENDS_ON", std.SPDXID},
	}
	for i, d := range info.Deps {
		m := d
		comment := ""
		if d.Replace != nil {
			m = d.Replace
			comment = fmt.Sprintf("%s %s replaced by %s %s", d.Path, d.Version, m.Path, m.Version)
		}
		pkg := spdxPackage{
			Name:             m.Path,
			SPDXID:           fmt.Sprintf("SPDXRef-Package-go-%d-%s", i, strings.Trim(spdxIDUnsafe.ReplaceAllString(m.Path, "-"), "-")),
			VersionInfo:      m.Version,
			DownloadLocation: "NOASSERTION",
			PrimaryPurpose:   "LIBRARY",
			Comment:          comment,
			ExternalRefs:     []spdxExternalRef{purl(m.Path, m.Version)},
		}
		if c, ok := h1Checksum(m.Sum); ok {
			pkg.Checksums = []spdxChecksum{c}
		}
		doc.Packages = append(doc.Packages, pkg)
		doc.Relationships = append(doc.Relationships, spdxRelationship{bin.SPDXID, "DEPENDS_ON", pkg.SPDXID})
	}
	out, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}

// purl is a Go module's package URL (https://github.com/package-url/purl-spec).
func purl(path, version string) spdxExternalRef {
	return spdxExternalRef{Category: "PACKAGE-MANAGER", Type: "purl", Locator: "pkg:golang/" + path + "@" + version}
}

// h1Checksum turns a go.sum hash ("h1:" and the base64 of a SHA-256 over the
// module's files) into an SPDX checksum: the same SHA-256, in hex.
func h1Checksum(sum string) (spdxChecksum, bool) {
	b64, ok := strings.CutPrefix(sum, "h1:")
	if !ok {
		return spdxChecksum{}, false
	}
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(raw) != sha256.Size {
		return spdxChecksum{}, false
	}
	return spdxChecksum{Algorithm: "SHA256", Value: hex.EncodeToString(raw)}, true
}
