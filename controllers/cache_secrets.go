package controllers

import (
	"context"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/jack-io/jack-operator/api/jack"
)

// OwnedSelector selects the Secrets and ConfigMaps the operator makes: every
// one of them carries LabelManagedBy=ManagedByValue, set when it is created
// and put back by the reconcile that finds it missing (see readOwned). The
// manager's cache holds only these of the two kinds.
func OwnedSelector() labels.Selector {
	return labels.SelectorFromSet(labels.Set{jack.LabelManagedBy: jack.ManagedByValue})
}

var secretGVK = corev1.SchemeGroupVersion.WithKind("Secret")

// NewCache is the operator's cache (ctrl.Options.NewCache). It is the
// cache opts describe (CacheByObject, the watched namespaces) with Secrets
// and ConfigMaps narrowed to the operator's own (OwnedSelector), so that a
// cluster full of other Secrets — Helm releases, service account tokens,
// other applications' — costs the operator almost nothing; and beside it a
// second cache, of the same namespaces, holding only the name, namespace,
// UID and resourceVersion of every Secret, which is what the reconcilers
// that follow Secrets they do not own (a JackUser's password, a
// SigningKey's legacySecretRef) need to be told of a change. They watch it
// and read it as metav1.PartialObjectMetadata (builder.WatchesMetadata; a
// client Get of a PartialObjectMetadata), and read such a Secret's data
// from the API server, uncached, only when they must.
//
// The API server sends that cache metadata only, never a Secret's data.
//
// A manager made without NewCache still works with the reconcilers: its
// cache then holds every Secret whole, and their metadata beside them.
func NewCache(cfg *rest.Config, opts cache.Options) (cache.Cache, error) {
	opts.ByObject = maps.Clone(opts.ByObject)
	if opts.ByObject == nil {
		opts.ByObject = map[client.Object]cache.ByObject{}
	}
	for o := range opts.ByObject {
		switch o.(type) {
		case *corev1.Secret, *corev1.ConfigMap:
			return nil, fmt.Errorf("the cache options already narrow %T: NewCache narrows Secrets and ConfigMaps itself", o)
		}
	}
	owned := cache.ByObject{Label: OwnedSelector(), Transform: cache.TransformStripManagedFields()}
	opts.ByObject[&corev1.Secret{}] = owned
	opts.ByObject[&corev1.ConfigMap{}] = owned
	full, err := cache.New(cfg, opts)
	if err != nil {
		return nil, err
	}
	meta, err := cache.New(cfg, cache.Options{
		HTTPClient:        opts.HTTPClient,
		Scheme:            opts.Scheme,
		Mapper:            opts.Mapper,
		SyncPeriod:        opts.SyncPeriod,
		DefaultNamespaces: opts.DefaultNamespaces,
		ByObject:          map[client.Object]cache.ByObject{&corev1.Secret{}: {Transform: trimSecretMetadata}},
	})
	if err != nil {
		return nil, err
	}
	return &splitCache{Cache: full, secretMetadata: meta}, nil
}

// trimSecretMetadata keeps of a Secret's metadata what the reconcilers use:
// its key, and the UID and resourceVersion that name its version (see
// passwordVersion). Labels, annotations and managed fields can be many
// times that.
func trimSecretMetadata(o any) (any, error) {
	m, ok := o.(*metav1.PartialObjectMetadata)
	if !ok {
		return o, nil // a tombstone
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Name: m.Name, Namespace: m.Namespace, UID: m.UID, ResourceVersion: m.ResourceVersion, DeletionTimestamp: m.DeletionTimestamp,
	}}, nil
}

// splitCache is the manager's cache, whose Secret metadata, asked for as
// metav1.PartialObjectMetadata, comes from a cache of its own: controller-
// runtime keys its per-object settings by kind, so one cache cannot hold
// the operator's Secrets whole and everyone's as metadata.
type splitCache struct {
	cache.Cache
	secretMetadata cache.Cache
}

// isSecretMetadata reports whether o is a Secret's, or a list of Secrets',
// metadata.
func isSecretMetadata(o runtime.Object) bool {
	var gvk schema.GroupVersionKind
	switch m := o.(type) {
	case *metav1.PartialObjectMetadata:
		gvk = m.GroupVersionKind()
	case *metav1.PartialObjectMetadataList:
		gvk = m.GroupVersionKind()
		gvk.Kind = gvk.Kind[:max(0, len(gvk.Kind)-len("List"))]
	default:
		return false
	}
	return gvk == secretGVK
}

func (c *splitCache) of(o runtime.Object) cache.Cache {
	if isSecretMetadata(o) {
		return c.secretMetadata
	}
	return c.Cache
}

func (c *splitCache) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return c.of(obj).Get(ctx, key, obj, opts...)
}

func (c *splitCache) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return c.of(list).List(ctx, list, opts...)
}

func (c *splitCache) GetInformer(ctx context.Context, obj client.Object, opts ...cache.InformerGetOption) (cache.Informer, error) {
	return c.of(obj).GetInformer(ctx, obj, opts...)
}

func (c *splitCache) RemoveInformer(ctx context.Context, obj client.Object) error {
	return c.of(obj).RemoveInformer(ctx, obj)
}

func (c *splitCache) IndexField(ctx context.Context, obj client.Object, field string, extract client.IndexerFunc) error {
	return c.of(obj).IndexField(ctx, obj, field, extract)
}

// Start runs both caches until ctx ends.
func (c *splitCache) Start(ctx context.Context) error {
	metaDone := make(chan error, 1)
	go func() { metaDone <- c.secretMetadata.Start(ctx) }()
	err := c.Cache.Start(ctx)
	if metaErr := <-metaDone; err == nil {
		err = metaErr
	}
	return err
}

func (c *splitCache) WaitForCacheSync(ctx context.Context) bool {
	return c.Cache.WaitForCacheSync(ctx) && c.secretMetadata.WaitForCacheSync(ctx)
}

// readOwned reads an object the operator makes, by name, into obj: from
// the cache, which holds only what carries OwnedSelector's label, and, when
// the cache has none of that name, from the API server, uncached. So an
// object of that name that lacks the label is still found — someone else's
// (which the reconciler refuses to touch, as before), or the operator's own
// made by an older version or unlabelled by hand (whose update then puts
// the label back, and the cache sees it again). It reports whether the
// object exists.
func readOwned(ctx context.Context, cached, direct client.Reader, key client.ObjectKey, obj client.Object) (bool, error) {
	err := cached.Get(ctx, key, obj)
	if apierrors.IsNotFound(err) {
		err = direct.Get(ctx, key, obj)
	}
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	return err == nil, err
}

// secretMetadata reads the metadata of a Secret from the cache; nil when
// it does not exist.
func secretMetadata(ctx context.Context, c client.Reader, key client.ObjectKey) (*metav1.PartialObjectMetadata, error) {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(secretGVK)
	if err := c.Get(ctx, key, m); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, err
	}
	return m, nil
}
