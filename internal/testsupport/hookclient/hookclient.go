// Package hookclient wraps a real controller-runtime client so that a test
// can count the writes a reconciler makes, or make one of them fail (a crash
// half-way through, an API server refusing), without faking the client or
// the API server. Used by the operator's tests (controllers and
// controllers/webhookcerts); never by a binary.
package hookclient

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Client calls BeforeWrite ahead of every Create, Update and Patch, and of
// every status Update and Patch, with the object about to be written; when
// it returns an error the write is not made and the error is returned in its
// place. Reads and deletes go straight to the wrapped client.
type Client struct {
	client.Client
	BeforeWrite func(o client.Object) error
}

// Create implements client.Writer.
func (c *Client) Create(ctx context.Context, o client.Object, opts ...client.CreateOption) error {
	if err := c.BeforeWrite(o); err != nil {
		return err
	}
	return c.Client.Create(ctx, o, opts...)
}

// Update implements client.Writer.
func (c *Client) Update(ctx context.Context, o client.Object, opts ...client.UpdateOption) error {
	if err := c.BeforeWrite(o); err != nil {
		return err
	}
	return c.Client.Update(ctx, o, opts...)
}

// Patch implements client.Writer.
func (c *Client) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.PatchOption) error {
	if err := c.BeforeWrite(o); err != nil {
		return err
	}
	return c.Client.Patch(ctx, o, p, opts...)
}

// Status implements client.StatusClient: its writes are hooked too.
func (c *Client) Status() client.SubResourceWriter {
	return &status{SubResourceWriter: c.Client.Status(), c: c}
}

type status struct {
	client.SubResourceWriter
	c *Client
}

func (s *status) Update(ctx context.Context, o client.Object, opts ...client.SubResourceUpdateOption) error {
	if err := s.c.BeforeWrite(o); err != nil {
		return err
	}
	return s.SubResourceWriter.Update(ctx, o, opts...)
}

func (s *status) Patch(ctx context.Context, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
	if err := s.c.BeforeWrite(o); err != nil {
		return err
	}
	return s.SubResourceWriter.Patch(ctx, o, p, opts...)
}
