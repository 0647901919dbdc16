package gatewaymanifests

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// meshValues is what istio-mesh-values.yaml may hold: the fields of Istio's
// MeshConfig the sample uses, decoded strictly so that a misspelled or
// misplaced key fails. TestIstioMeshValuesUseMeshConfigFieldNames checks
// the same file against Istio's own schema.
type meshValues struct {
	MeshConfig struct {
		ExtensionProviders []struct {
			Name              string             `json:"name"`
			EnvoyExtAuthzHTTP *extAuthzHTTPValue `json:"envoyExtAuthzHttp"`
		} `json:"extensionProviders"`
	} `json:"meshConfig"`
}

type extAuthzHTTPValue struct {
	Service                      string   `json:"service"`
	Port                         int64    `json:"port"`
	PathPrefix                   string   `json:"pathPrefix"`
	Timeout                      string   `json:"timeout"`
	IncludeRequestHeadersInCheck []string `json:"includeRequestHeadersInCheck"`
	HeadersToUpstreamOnAllow     []string `json:"headersToUpstreamOnAllow"`
}

func readMeshValues(t *testing.T) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(samplesDir(t), meshValuesFile))
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func decodeMeshValues(data []byte) (*meshValues, error) {
	var v meshValues
	if err := yaml.UnmarshalStrict(data, &v); err != nil {
		return nil, err
	}
	return &v, nil
}

// meshProvider is the ext_authz HTTP provider named name in
// istio-mesh-values.yaml.
func meshProvider(t *testing.T, name string) *extAuthzHTTPValue {
	t.Helper()
	v, err := decodeMeshValues(readMeshValues(t))
	if err != nil {
		t.Fatalf("%s: %v", meshValuesFile, err)
	}
	for _, p := range v.MeshConfig.ExtensionProviders {
		if p.Name == name && p.EnvoyExtAuthzHTTP != nil {
			return p.EnvoyExtAuthzHTTP
		}
	}
	t.Fatalf("%s has no envoyExtAuthzHttp provider named %q, which the AuthorizationPolicy names", meshValuesFile, name)
	return nil
}

func TestIstioMeshValuesDecodeStrictly(t *testing.T) {
	data := readMeshValues(t)
	if _, err := decodeMeshValues(data); err != nil {
		t.Fatalf("%s: %v", meshValuesFile, err)
	}
	// The control: the same file with a misspelled field does not decode.
	bad := strings.Replace(string(data), "pathPrefix:", "pathPrefx:", 1)
	if bad == string(data) {
		t.Fatal("the control found no pathPrefix to misspell")
	}
	if _, err := decodeMeshValues([]byte(bad)); err == nil || !strings.Contains(err.Error(), "pathPrefx") {
		t.Errorf("a misspelled pathPrefix decoded (err %v): the strict decoding sees no typo", err)
	}
}

// The keys of istio-mesh-values.yaml are fields of Istio's MeshConfig, read
// from istio.io/api's mesh/v1alpha1/config.proto (copied by
// hack/gateway-crds.sh), so the struct above cannot drift from Istio.
func TestIstioMeshValuesUseMeshConfigFieldNames(t *testing.T) {
	dir := gatewayCRDs(t)
	proto, err := os.ReadFile(filepath.Join(dir, "istio", "config.proto"))
	if err != nil {
		t.Fatal(err)
	}
	schema := parseProtoMessages(string(proto))
	if schema["MeshConfig"] == nil || schema["EnvoyExternalAuthorizationHttpProvider"] == nil {
		t.Fatalf("config.proto has no MeshConfig or EnvoyExternalAuthorizationHttpProvider message (parsed %d messages)", len(schema))
	}
	var values map[string]any
	if err := yaml.Unmarshal(readMeshValues(t), &values); err != nil {
		t.Fatal(err)
	}
	if errs := schema.check("MeshConfig", values["meshConfig"], "meshConfig"); len(errs) > 0 {
		t.Errorf("%s has fields MeshConfig does not:\n%s", meshValuesFile, strings.Join(errs, "\n"))
	}
	// Every field of the strict struct is one of Istio's.
	for _, f := range []string{"service", "port", "pathPrefix", "timeout", "includeRequestHeadersInCheck", "headersToUpstreamOnAllow"} {
		if _, ok := schema["EnvoyExternalAuthorizationHttpProvider"].fields[f]; !ok {
			t.Errorf("EnvoyExternalAuthorizationHttpProvider has no field %s", f)
		}
	}

	// The control: a misspelled key is reported.
	provider := values["meshConfig"].(map[string]any)["extensionProviders"].([]any)[0].(map[string]any)["envoyExtAuthzHttp"].(map[string]any)
	provider["headersToUpstreamOnAlow"] = provider["headersToUpstreamOnAllow"]
	delete(provider, "headersToUpstreamOnAllow")
	errs := schema.check("MeshConfig", values["meshConfig"], "meshConfig")
	if len(errs) != 1 || !strings.Contains(errs[0], "headersToUpstreamOnAlow") {
		t.Errorf("a misspelled headersToUpstreamOnAllow gave %v, want one error naming it", errs)
	}
}

// protoSchema is the messages of a .proto file by simple name, each with its
// fields by JSON name (lowerCamelCase) and their types' simple names.
type protoSchema map[string]*protoMessage

type protoMessage struct {
	fields map[string]string
}

var protoToken = regexp.MustCompile(`(?m)\b(message|enum|oneof)\s+(\w+)\s*\{|\{|\}|^\s*(?:repeated\s+|optional\s+)?(map<[^>]*>|[\w.]+)\s+(\w+)\s*=\s*\d+[^;]*;`)

var protoComment = regexp.MustCompile(`//[^\n]*|/\*[\s\S]*?\*/`)

// parseProtoMessages reads the messages of a proto3 file: enough of the
// grammar for message, enum and oneof blocks and field declarations.
func parseProtoMessages(src string) protoSchema {
	src = protoComment.ReplaceAllString(src, "")
	schema := protoSchema{}
	type block struct {
		kind string // message, enum, oneof, other
		msg  *protoMessage
	}
	var stack []block
	current := func() *protoMessage {
		for i := len(stack) - 1; i >= 0; i-- {
			switch stack[i].kind {
			case "message":
				return stack[i].msg
			case "oneof":
				continue
			default:
				return nil
			}
		}
		return nil
	}
	for _, m := range protoToken.FindAllStringSubmatch(src, -1) {
		switch {
		case m[1] == "message":
			msg := &protoMessage{fields: map[string]string{}}
			if _, dup := schema[m[2]]; dup {
				schema[m[2]] = nil // ambiguous by simple name
			} else {
				schema[m[2]] = msg
			}
			stack = append(stack, block{kind: "message", msg: msg})
		case m[1] != "":
			stack = append(stack, block{kind: m[1]})
		case m[0] == "{":
			stack = append(stack, block{kind: "other"})
		case m[0] == "}":
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case m[4] != "":
			if msg := current(); msg != nil {
				typ := m[3]
				if i := strings.LastIndex(typ, "."); i >= 0 {
					typ = typ[i+1:]
				}
				msg.fields[lowerCamel(m[4])] = typ
			}
		}
	}
	return schema
}

func lowerCamel(snake string) string {
	parts := strings.Split(snake, "_")
	for i := 1; i < len(parts); i++ {
		if parts[i] != "" {
			parts[i] = strings.ToUpper(parts[i][:1]) + parts[i][1:]
		}
	}
	return strings.Join(parts, "")
}

// check walks a decoded YAML value as the message msg and reports every key
// that is not one of its fields, following fields whose type is a message
// of the schema.
func (s protoSchema) check(msg string, v any, at string) []string {
	m := s[msg]
	if m == nil {
		return nil // a scalar, a well-known type, or a name the file repeats
	}
	var errs []string
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			errs = append(errs, s.check(msg, e, fmt.Sprintf("%s[%d]", at, i))...)
		}
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			typ, ok := m.fields[k]
			if !ok {
				errs = append(errs, fmt.Sprintf("%s.%s: %s has no such field", at, k, msg))
				continue
			}
			errs = append(errs, s.check(typ, v[k], at+"."+k)...)
		}
	}
	return errs
}
