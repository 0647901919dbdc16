package chart

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// The image values make the references the contract of docs/install.md
// says: <registry>/<repository>:<tag>, @<digest> after the tag when pinned,
// the tag defaulting to appVersion, global.imageRegistry winning over both
// registries, the sidecar's registry defaulting to the operator's, and an
// empty registry adding no prefix. The operator's Deployment, the flag that
// tells the injector the sidecar image, and the helm test pod (which runs
// the operator image) all use them.
func TestImageValuesMakeTheReferences(t *testing.T) {
	app := appVersion(t)
	op, sc := "sha256:"+strings.Repeat("0a", 32), "sha256:"+strings.Repeat("b1", 32)
	cases := map[string]struct {
		values            values
		operator, sidecar string
	}{
		"the defaults pull both images from ghcr.io/jack-io at appVersion": {
			values:   nil,
			operator: "ghcr.io/jack-io/jack-operator:" + app, sidecar: "ghcr.io/jack-io/jack-auth:" + app,
		},
		"a tag alone changes only that image's tag": {
			values:   values{"image": values{"tag": "1.2.3"}},
			operator: "ghcr.io/jack-io/jack-operator:1.2.3", sidecar: "ghcr.io/jack-io/jack-auth:" + app,
		},
		"a digest pins the image and keeps the tag for people reading it": {
			values:   values{"image": values{"digest": op}, "sidecar": values{"image": values{"tag": "1.2.3", "digest": sc}}},
			operator: "ghcr.io/jack-io/jack-operator:" + app + "@" + op, sidecar: "ghcr.io/jack-io/jack-auth:1.2.3@" + sc,
		},
		"global.imageRegistry wins over both registries": {
			values: values{"global": values{"imageRegistry": "mirror.example.com/jack"},
				"image": values{"registry": "registry.example.com"}, "sidecar": values{"image": values{"registry": "other.example.com", "digest": sc}}},
			operator: "mirror.example.com/jack/jack-operator:" + app, sidecar: "mirror.example.com/jack/jack-auth:" + app + "@" + sc,
		},
		"an empty registry adds no prefix, to both": {
			values:   values{"image": values{"registry": ""}},
			operator: "jack-operator:" + app, sidecar: "jack-auth:" + app,
		},
		"with no registry, the repository may name one": {
			values:   values{"image": values{"registry": "", "repository": "registry.example.com/jack/jack-operator"}},
			operator: "registry.example.com/jack/jack-operator:" + app, sidecar: "jack-auth:" + app,
		},
		"the sidecar's registry defaults to the operator's": {
			values:   values{"image": values{"registry": "localhost:5001/jack", "tag": "dev", "digest": op}, "sidecar": values{"image": values{"tag": "dev", "digest": sc}}},
			operator: "localhost:5001/jack/jack-operator:dev@" + op, sidecar: "localhost:5001/jack/jack-auth:dev@" + sc,
		},
		"the sidecar's own registry": {
			values:   values{"sidecar": values{"image": values{"registry": "registry.example.com:5000/team", "repository": "auth/jack-auth"}}},
			operator: "ghcr.io/jack-io/jack-operator:" + app, sidecar: "registry.example.com:5000/team/auth/jack-auth:" + app,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			objs, err := renderArgs(t, release, namespace, c.values) // with the helm test pod
			if err != nil {
				t.Fatal(err)
			}
			dep := find(t, objs, "Deployment", "jack-operator")
			if got := field(t, dep, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)["image"]; got != c.operator {
				t.Errorf("the operator's image is %v, want %s", got, c.operator)
			}
			args := containerArgs(t, dep)
			if want := "--sidecar-image=" + c.sidecar; !slices.Contains(args, want) {
				t.Errorf("the operator is not told %s: %v", want, args)
			}
			test := find(t, objs, "Pod", "jack-operator-test")
			if got := test.Object["spec"].(map[string]any)["containers"].([]any)[0].(map[string]any)["image"]; got != c.operator {
				t.Errorf("helm test runs %v, want the operator's image %s", got, c.operator)
			}
		})
	}
}

// An upgrade with a new sidecar image leaves running pods as they are: the
// pod injection webhook is called only when a pod is created, so a pod
// gets the new sidecar when it is re-created (kubectl rollout restart), and
// never has its sidecar changed under it.
func TestThePodWebhookSeesPodsOnlyWhenTheyAreCreated(t *testing.T) {
	for _, r := range injectionWebhook(t, render(t, nil))["rules"].([]any) {
		r := r.(map[string]any)
		if ops := fmt.Sprint(r["operations"]); ops != "[CREATE]" || fmt.Sprint(r["resources"]) != "[pods]" {
			t.Errorf("the pod injection webhook's rule %v: operations %s, want [CREATE] on pods alone", r, ops)
		}
	}
}
