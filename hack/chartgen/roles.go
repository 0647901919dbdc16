package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// The rules of the aggregated user-facing ClusterRoles, and the split of the
// operator's rules by scope for the namespace-scoped mode.

// The users' roles the jack resources aggregate into: the label that
// Kubernetes' default ClusterRole of that name selects.
var aggregateTo = []string{"view", "edit", "admin"}

// editableByEdit are the jack resources that the default edit role may
// write. JackUsers are the application's users, which whoever deploys the
// application manages. SigningKeys and TokenRevocations are not: a
// SigningKey's rotation, revocation of keys and legacy import, and the
// revocations that make a logout hold on every replica, are the
// namespace's authentication itself, which its admins keep (an editor
// deleting a TokenRevocation would revive a token that was logged out).
// JackAPIKeys are the application's machine users, managed like JackUsers:
// an editor can already read every Secret, so the keys' too.
var editableByEdit = []string{"jackapikeys", "jackusers"}

// aggregatedRules are the rules of the ClusterRoles that extend view, edit
// and admin with the resources of the CRDs in config/crd/bases. Each is
// whole on its own (edit's and admin's include reading), so that binding
// one directly works as well as through aggregation.
func aggregatedRules() (map[string][]rbacv1.PolicyRule, error) {
	crds, err := readCRDs()
	if err != nil {
		return nil, err
	}
	var group string
	var resources []string
	for _, crd := range crds {
		if group != "" && crd.group != group {
			return nil, fmt.Errorf("%s: the CRDs are of groups %s and %s; the aggregated roles expect one", crd.file, group, crd.group)
		}
		group = crd.group
		resources = append(resources, crd.plural)
	}
	if len(resources) == 0 {
		return nil, fmt.Errorf("no CRDs in %s: run controller-gen first (make manifests)", crdSource)
	}
	slices.Sort(resources)
	for _, r := range editableByEdit {
		if !slices.Contains(resources, r) {
			return nil, fmt.Errorf("edit is to write %s, which no CRD in %s defines", r, crdSource)
		}
	}
	var status []string
	for _, r := range resources {
		status = append(status, r+"/status")
	}
	read := []string{"get", "list", "watch"}
	write := []string{"create", "update", "patch", "delete", "deletecollection"}
	view := []rbacv1.PolicyRule{
		{APIGroups: []string{group}, Resources: resources, Verbs: read},
		{APIGroups: []string{group}, Resources: status, Verbs: read},
	}
	return map[string][]rbacv1.PolicyRule{
		"view":  view,
		"edit":  append(slices.Clone(view), rbacv1.PolicyRule{APIGroups: []string{group}, Resources: editableByEdit, Verbs: write}),
		"admin": append(slices.Clone(view), rbacv1.PolicyRule{APIGroups: []string{group}, Resources: resources, Verbs: write}),
	}, nil
}

// scopes are the resources outside the jack API group that the operator's
// rules may name, by group and resource, and whether they are namespaced.
// The jack resources' scope is read from their CRDs.
var scopes = map[string]bool{
	"/configmaps":                            true,
	"/events":                                true,
	"/pods":                                  true,
	"/secrets":                               true,
	"/namespaces":                            false,
	"events.k8s.io/events":                   true,
	"coordination.k8s.io/leases":             true,
	"rbac.authorization.k8s.io/roles":        true,
	"rbac.authorization.k8s.io/rolebindings": true,
	"rbac.authorization.k8s.io/clusterroles": false,
	"rbac.authorization.k8s.io/clusterrolebindings":                false,
	"admissionregistration.k8s.io/mutatingwebhookconfigurations":   false,
	"admissionregistration.k8s.io/validatingwebhookconfigurations": false,
	"apiextensions.k8s.io/customresourcedefinitions":               false,
}

// crdScopes adds the CRDs' resources to scopes.
func crdScopes() (map[string]bool, error) {
	crds, err := readCRDs()
	if err != nil {
		return nil, err
	}
	out := maps.Clone(scopes)
	for _, crd := range crds {
		out[crd.group+"/"+crd.plural] = crd.namespaced
	}
	return out, nil
}

// crdInfo is what chartgen reads of a CRD in config/crd/bases.
type crdInfo struct {
	file, group, plural string
	namespaced          bool
}

// readCRDs reads the group, plural and scope of every CRD in crdSource.
func readCRDs() ([]crdInfo, error) {
	sources, err := filepath.Glob(filepath.Join(crdSource, "*.yaml"))
	if err != nil {
		return nil, err
	}
	var out []crdInfo
	for _, src := range sources {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		var crd struct {
			Spec struct {
				Group string `json:"group"`
				Scope string `json:"scope"`
				Names struct {
					Plural string `json:"plural"`
				} `json:"names"`
			} `json:"spec"`
		}
		if err := yaml.Unmarshal(data, &crd); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		out = append(out, crdInfo{file: src, group: crd.Spec.Group, plural: crd.Spec.Names.Plural, namespaced: crd.Spec.Scope == "Namespaced"})
	}
	return out, nil
}

// byScope splits rules into those about namespaced resources and those
// about cluster-scoped ones, by known ("group/resource" → namespaced). A
// subresource (jackusers/status) has its resource's scope.
func byScope(rules []rbacv1.PolicyRule, known map[string]bool) (namespaced, clusterScoped []rbacv1.PolicyRule, err error) {
	for _, r := range rules {
		var ns, cl []string
		for _, res := range r.Resources {
			base, _, _ := strings.Cut(res, "/")
			scope := map[bool]int{}
			for _, g := range r.APIGroups {
				s, ok := known[g+"/"+base]
				if !ok {
					return nil, nil, fmt.Errorf("a rule grants %s in API group %q, whose scope chartgen does not know: add it to scopes in hack/chartgen", base, g)
				}
				scope[s]++
			}
			switch {
			case len(scope) > 1:
				return nil, nil, fmt.Errorf("a rule grants %s in API groups %v, where it is namespaced in some and not others: split the rule", base, r.APIGroups)
			case scope[true] > 0:
				ns = append(ns, res)
			default:
				cl = append(cl, res)
			}
		}
		if len(ns) > 0 {
			part := *r.DeepCopy()
			part.Resources = ns
			namespaced = append(namespaced, part)
		}
		if len(cl) > 0 {
			part := *r.DeepCopy()
			part.Resources = cl
			clusterScoped = append(clusterScoped, part)
		}
	}
	return namespaced, clusterScoped, nil
}

// writeWatchNamespacesRBAC writes the ClusterRole's rules split for the
// chart's namespace-scoped mode: a Role's in each watched namespace, and
// what stays cluster-wide.
func writeWatchNamespacesRBAC(header string, cluster []rbacv1.PolicyRule) error {
	known, err := crdScopes()
	if err != nil {
		return err
	}
	namespaced, clusterScoped, err := byScope(cluster, known)
	if err != nil {
		return fmt.Errorf("%s: %w", roleSource, err)
	}
	if err := writeYAML(filepath.Join(chartDir, "files", "rbac", "watch-namespaces-role-rules.yaml"), header, namespaced); err != nil {
		return err
	}
	return writeYAML(filepath.Join(chartDir, "files", "rbac", "watch-namespaces-clusterrole-rules.yaml"), header, clusterScoped)
}
