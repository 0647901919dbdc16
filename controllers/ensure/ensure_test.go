package ensure_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/controllers/ensure"
	"github.com/jack-io/jack-operator/internal/testsupport/testenv"
)

// The tests run against a real kube-apiserver and etcd, since what they check
// is how the API server's optimistic concurrency meets Object's writes. They
// play both the reconciler (what it read, what it wants) and the other
// writers, with an uncached client.

const ns = "ensure"

var (
	k8s client.Client
	seq atomic.Int64
)

func TestMain(m *testing.M) {
	os.Exit(testenv.Main(m, testenv.Scheme(), func(e *testenv.Env) (func(), error) {
		k8s = e.Client
		return nil, k8s.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	}))
}

func newName(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

func TestObject(t *testing.T) {
	v1 := map[string][]byte{"k": []byte("v1")}
	v2 := map[string][]byte{"k": []byte("v2")}
	theirs := map[string][]byte{"k": []byte("theirs")}
	tests := map[string]struct {
		// stored is the data of the Secret in the API server when the
		// reconciler reads it; nil when there is none.
		stored map[string][]byte
		// missed: the reconciler did not find the stored Secret (a cache
		// that has not seen it yet).
		missed bool
		// meanwhile is what another writer stores after the read; nil when
		// nobody does.
		meanwhile map[string][]byte
		// wanted is the data the reconciler wants.
		wanted map[string][]byte

		want ensure.Result
		// wantErr recognises the error expected; nil when none is.
		wantErr func(error) bool
		// wantMessage starts the expected error's message.
		wantMessage string
		// wantStored is the data the API server holds afterwards.
		wantStored map[string][]byte
		// requests is how many writes Object sent.
		requests int
		// written: the stored Secret changed (its resourceVersion moved).
		written bool
	}{
		"a missing Secret is created": {
			wanted: v1, want: ensure.Created, wantStored: v1, requests: 1, written: true,
		},
		"a Secret already as wanted is left unwritten": {
			stored: v1, wanted: v1, want: ensure.Unchanged, wantStored: v1,
		},
		"a Secret that differs is updated": {
			stored: v1, wanted: v2, want: ensure.Updated, wantStored: v2, requests: 1, written: true,
		},
		"a Secret another writer changed since it was read is not overwritten: a Conflict": {
			stored: v1, meanwhile: theirs, wanted: v2,
			wantErr: apierrors.IsConflict, wantMessage: "updating the test Secret: ", wantStored: theirs, requests: 1,
		},
		"a Secret that exists though it was not found is not overwritten: AlreadyExists": {
			stored: v1, missed: true, wanted: v2,
			wantErr: apierrors.IsAlreadyExists, wantMessage: "creating the test Secret: ", wantStored: v1, requests: 1,
		},
		"unchanged is from what was read: another writer's change is not undone": {
			stored: v1, meanwhile: theirs, wanted: v1, want: ensure.Unchanged, wantStored: theirs,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := client.ObjectKey{Namespace: ns, Name: newName("secret")}
			storedLabels := map[string]string{"made-by": "someone-before"}
			var have *corev1.Secret
			if tc.stored != nil {
				s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns, Labels: storedLabels}, Data: tc.stored}
				if err := k8s.Create(ctx, s); err != nil {
					t.Fatal(err)
				}
				if !tc.missed {
					have = &corev1.Secret{}
					if err := k8s.Get(ctx, key, have); err != nil {
						t.Fatal(err)
					}
				}
			}
			if tc.meanwhile != nil {
				other := have.DeepCopy()
				other.Data = tc.meanwhile
				if err := k8s.Update(ctx, other); err != nil {
					t.Fatalf("another writer: %v", err)
				}
			}
			before := resourceVersion(t, key)

			wantLabels := map[string]string{"made-by": "ensure"}
			want := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns, Labels: wantLabels}, Data: tc.wanted}
			w := &countingWriter{Writer: k8s}
			got, res, err := ensure.Object(ctx, w, have, want, func(s *corev1.Secret) { s.Data = tc.wanted }, ensure.Named("the test Secret"))

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Object: %v", err)
			case tc.wantErr != nil && (err == nil || !tc.wantErr(err)):
				t.Fatalf("Object: err %v, not the refusal expected", err)
			case tc.wantErr != nil && !strings.HasPrefix(err.Error(), tc.wantMessage):
				t.Errorf("Object's error %q does not start with %q", err, tc.wantMessage)
			}
			if tc.wantErr == nil && res != tc.want {
				t.Errorf("Object did %q, want %q", res, tc.want)
			}

			var stored corev1.Secret
			if err := k8s.Get(ctx, key, &stored); err != nil {
				t.Fatal(err)
			}
			if w.requests != tc.requests {
				t.Errorf("Object sent %d writes, want %d", w.requests, tc.requests)
			}
			if !equality.Semantic.DeepEqual(stored.Data, tc.wantStored) {
				t.Errorf("the API server holds %q, want %q", stored.Data, tc.wantStored)
			}
			if written := stored.ResourceVersion != before; written != tc.written {
				t.Errorf("written: %v (resourceVersion %s, then %s), want %v", written, before, stored.ResourceVersion, tc.written)
			}
			// What is created is want; what is updated keeps what mutate
			// leaves alone.
			labels := storedLabels
			if res == ensure.Created {
				labels = wantLabels
			}
			if !maps.Equal(stored.Labels, labels) {
				t.Errorf("the stored Secret's labels are %v, want %v", stored.Labels, labels)
			}
			// It returns the Secret as written, or as read when it wrote nothing.
			if err == nil {
				wantRV := stored.ResourceVersion
				if res == ensure.Unchanged {
					wantRV = have.ResourceVersion
				}
				if got.ResourceVersion != wantRV {
					t.Errorf("Object returned the Secret at resourceVersion %s, want %s", got.ResourceVersion, wantRV)
				}
			}
		})
	}
}

func TestReplaceWhen(t *testing.T) {
	tests := map[string]struct {
		// storedRole is the roleRef of the binding the reconciler reads.
		storedRole string
		// replacedMeanwhile is the roleRef of a binding another writer puts
		// in place of the one read, after the read; "" when nobody does.
		replacedMeanwhile string
		// wantedRole is the roleRef the reconciler wants.
		wantedRole string

		want    ensure.Result
		wantErr func(error) bool
		// wantRole is the roleRef of the binding stored afterwards.
		wantRole string
		// sameObject: the binding stored afterwards is the one read (its UID).
		sameObject bool
	}{
		"a binding to the same role is updated in place": {
			storedRole: "reader", wantedRole: "reader",
			want: ensure.Updated, wantRole: "reader", sameObject: true,
		},
		"a binding to another role is replaced, since roleRef cannot be updated": {
			storedRole: "reader", wantedRole: "writer",
			want: ensure.Replaced, wantRole: "writer",
		},
		"a binding someone else put in place since the read is not deleted: a Conflict": {
			storedRole: "reader", replacedMeanwhile: "theirs", wantedRole: "writer",
			wantErr: apierrors.IsConflict, wantRole: "theirs",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			key := client.ObjectKey{Namespace: ns, Name: newName("binding")}
			binding := func(role, subject string) *rbacv1.RoleBinding {
				return &rbacv1.RoleBinding{
					ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: ns},
					RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role},
					Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: subject, Namespace: ns}},
				}
			}
			have := binding(tc.storedRole, "before")
			if err := k8s.Create(ctx, have); err != nil {
				t.Fatal(err)
			}
			if tc.replacedMeanwhile != "" {
				if err := k8s.Delete(ctx, have.DeepCopy()); err != nil {
					t.Fatal(err)
				}
				if err := k8s.Create(ctx, binding(tc.replacedMeanwhile, "theirs")); err != nil {
					t.Fatal(err)
				}
			}

			want := binding(tc.wantedRole, "wanted")
			_, res, err := ensure.Object(ctx, k8s, have, want,
				func(h *rbacv1.RoleBinding) { h.Subjects = want.Subjects },
				ensure.ReplaceWhen(func(h *rbacv1.RoleBinding) bool { return h.RoleRef != want.RoleRef }))

			switch {
			case tc.wantErr == nil && err != nil:
				t.Fatalf("Object: %v", err)
			case tc.wantErr != nil && (err == nil || !tc.wantErr(err)):
				t.Fatalf("Object: err %v, not the refusal expected", err)
			case tc.wantErr == nil && res != tc.want:
				t.Errorf("Object did %q, want %q", res, tc.want)
			}
			var stored rbacv1.RoleBinding
			if err := k8s.Get(ctx, key, &stored); err != nil {
				t.Fatal(err)
			}
			if stored.RoleRef.Name != tc.wantRole {
				t.Errorf("the stored binding is to role %q, want %q", stored.RoleRef.Name, tc.wantRole)
			}
			if same := stored.UID == have.UID; same != tc.sameObject {
				t.Errorf("the stored binding is the one read: %v, want %v", same, tc.sameObject)
			}
			if wantSubject := map[bool]string{true: "theirs", false: "wanted"}[tc.wantErr != nil]; stored.Subjects[0].Name != wantSubject {
				t.Errorf("the stored binding's subject is %q, want %q", stored.Subjects[0].Name, wantSubject)
			}
		})
	}
}

// countingWriter counts the write requests sent through it.
type countingWriter struct {
	client.Writer
	requests int
}

func (w *countingWriter) Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error {
	w.requests++
	return w.Writer.Create(ctx, obj, opts...)
}

func (w *countingWriter) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	w.requests++
	return w.Writer.Update(ctx, obj, opts...)
}

func (w *countingWriter) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	w.requests++
	return w.Writer.Patch(ctx, obj, patch, opts...)
}

func (w *countingWriter) Delete(ctx context.Context, obj client.Object, opts ...client.DeleteOption) error {
	w.requests++
	return w.Writer.Delete(ctx, obj, opts...)
}

func resourceVersion(t *testing.T, key client.ObjectKey) string {
	t.Helper()
	var s corev1.Secret
	err := k8s.Get(context.Background(), key, &s)
	if apierrors.IsNotFound(err) {
		return ""
	}
	if err != nil {
		t.Fatal(err)
	}
	return s.ResourceVersion
}
