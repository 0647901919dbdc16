package kube_test

import (
	"context"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/jack-io/jack-operator/sidecar/internal/kube"
)

// selfSubjectReview asks the API server who the client's token says it is.
type selfSubjectReview struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Status     struct {
		UserInfo struct {
			Username string `json:"username"`
		} `json:"userInfo"`
	} `json:"status"`
}

func whoAmI(t *testing.T, c *kube.Client) string {
	t.Helper()
	review := &selfSubjectReview{APIVersion: "authentication.k8s.io/v1", Kind: "SelfSubjectReview"}
	if err := c.Create(context.Background(), "/apis/authentication.k8s.io/v1/selfsubjectreviews", review); err != nil {
		t.Fatalf("creating a SelfSubjectReview: %v", err)
	}
	return review.Status.UserInfo.Username
}

func TestARotatedTokenFileIsReadAgainOnceTheLastReadIsOld(t *testing.T) {
	id := newIdentity(t)
	create(t, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "next", Namespace: id.ns}})
	cfg := id.config()
	cfg.TokenReread = 200 * time.Millisecond
	c := newClient(t, cfg)
	// The test's clock, not the machine's load, says when the last read is
	// old: a TokenRequest and two reviews can take longer than 200ms.
	// Its first reading is a re-read interval after the real one New
	// made, so the first request reads the file again at exactly now.
	var mu sync.Mutex
	now := time.Now().Add(cfg.TokenReread)
	kube.SetTokenClock(c, func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	first := "system:serviceaccount:" + id.ns + ":" + id.sa
	if got := whoAmI(t, c); got != first {
		t.Fatalf("the client is %q; want %q", got, first)
	}

	// The kubelet swaps the file; the old token stays valid, so only a
	// new read of the file can change who the client is.
	id.rotate(id.token(t, "next", nil))
	mu.Lock()
	now = now.Add(cfg.TokenReread - time.Millisecond)
	mu.Unlock()
	if got := whoAmI(t, c); got != first {
		t.Errorf("just before the re-read interval ends the client is %q; want still %q (the file is read at most every 200ms)", got, first)
	}
	mu.Lock()
	now = now.Add(time.Millisecond)
	mu.Unlock()
	if got, want := whoAmI(t, c), "system:serviceaccount:"+id.ns+":next"; got != want {
		t.Errorf("once the re-read interval has passed the client is %q; want %q", got, want)
	}
}

func TestATokenTheServerRefusesIsReplacedByTheFilesNewerOneAtOnce(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "list"))
	ctx := context.Background()
	configMaps := kube.CollectionPath("", "v1", id.ns, "configmaps")

	// A token bound to a Secret is revoked with it. The API server caches
	// successful authentications for 10 s, so the token is revoked before
	// its first use, and a moment is left for the API server's informer to
	// see the deletion.
	bound := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "bound", Namespace: id.ns}}
	create(t, bound)
	revoked := id.token(t, id.sa, bound)
	if err := k8s.Delete(ctx, bound); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	id.rotate(revoked)

	cfg := id.config()
	cfg.TokenReread = time.Hour // only a refusal can make the client read the file
	c := newClient(t, cfg)
	var list kube.List[configMap]
	if err := c.List(ctx, configMaps, kube.ListOptions{}, &list); !kube.IsUnauthorized(err) {
		t.Fatalf("with a revoked token in the file, List: %v; want Unauthorized", err)
	}

	id.rotate(id.token(t, id.sa, nil))
	if err := c.List(ctx, configMaps, kube.ListOptions{}, &list); err != nil {
		t.Fatalf("after the kubelet wrote a new token, List: %v; want the refused request sent again with the new token", err)
	}
}

func TestAFileThatCannotBeReadKeepsTheLastToken(t *testing.T) {
	id := newIdentity(t, allow("", "configmaps", "list"))
	cfg := id.config()
	cfg.TokenReread = time.Millisecond
	c := newClient(t, cfg)

	// The volume's directory is emptied, as in the middle of a botched
	// swap: the token file is gone.
	id.vol.Update(map[string][]byte{"namespace": []byte(id.ns)})
	time.Sleep(10 * time.Millisecond)
	var list kube.List[configMap]
	if err := c.List(context.Background(), kube.CollectionPath("", "v1", id.ns, "configmaps"), kube.ListOptions{}, &list); err != nil {
		t.Fatalf("List without a token file: %v; want the last token used", err)
	}
}
