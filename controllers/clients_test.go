package controllers

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// hookedClient calls beforeWrite ahead of every Create, Update and status
// Patch, and makes the write fail if it returns an error: a crash or a
// counter around the real client, never a fake of it.
type hookedClient struct {
	client.Client
	beforeWrite func(o client.Object) error
}

func (c *hookedClient) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	if err := c.beforeWrite(o); err != nil {
		return err
	}
	return c.Client.Create(ctx, o, opts...)
}

func (c *hookedClient) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	if err := c.beforeWrite(o); err != nil {
		return err
	}
	return c.Client.Update(ctx, o, opts...)
}

func (c *hookedClient) Status() client.SubResourceWriter {
	return &hookedStatus{SubResourceWriter: c.Client.Status(), c: c}
}

type hookedStatus struct {
	client.SubResourceWriter
	c *hookedClient
}

func (s *hookedStatus) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := s.c.beforeWrite(o); err != nil {
		return err
	}
	return s.SubResourceWriter.Patch(ctx, o, p, opts...)
}

// getObject reads an object of the test namespace ns into obj.
func getObject[T client.Object](t *testing.T, ns, name string, obj T) T {
	t.Helper()
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, obj); err != nil {
		t.Fatal(err)
	}
	return obj
}

// updateObject changes an object as a user would with kubectl.
func updateObject[T client.Object](t *testing.T, obj T, change func(T)) {
	t.Helper()
	change(obj)
	if err := k8s.Update(context.Background(), obj); err != nil {
		t.Fatal(err)
	}
}
