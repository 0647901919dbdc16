package controllers

import (
	"context"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client"
)

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
