package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
)

// writeLayout writes dir anew as an OCI image layout holding every built
// index, each named <name>:<version> (org.opencontainers.image.ref.name).
func writeLayout(dir, version string, built []builtImage) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return err
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return err
	}
	for _, b := range built {
		if err := p.AppendIndex(b.index, layout.WithAnnotations(map[string]string{
			"org.opencontainers.image.ref.name": b.name + ":" + version,
		})); err != nil {
			return err
		}
	}
	return nil
}

// push pushes every index as registry/<name>:<version> and returns the
// references.
func push(ctx context.Context, registry, version string, insecure bool, built []builtImage) ([]string, error) {
	var opts []name.Option
	if insecure {
		opts = append(opts, name.Insecure)
	}
	refs := make([]string, len(built))
	for i, b := range built {
		ref, err := name.NewTag(registry+"/"+b.name+":"+version, opts...)
		if err != nil {
			return nil, fmt.Errorf("-push %s: %q is not an image reference: %w", registry, registry+"/"+b.name+":"+version, err)
		}
		fmt.Fprintf(os.Stderr, "images: pushing %s (%s)\n", ref, ref.Scheme())
		if err := remote.WriteIndex(ref, b.index, remote.WithContext(ctx), remote.WithAuthFromKeychain(authn.DefaultKeychain)); err != nil {
			return nil, fmt.Errorf("pushing %s: %w", ref, err)
		}
		refs[i] = ref.String()
	}
	return refs, nil
}

// envNames are the .env file's variable for each image's digest.
var envNames = map[string]string{
	"jack-operator": "JACK_OPERATOR_DIGEST",
	"jack-auth":     "JACK_SIDECAR_DIGEST",
	"jack-echo":     "JACK_ECHO_DIGEST",
}

// writeEnv writes the shell-sourceable file that hack/demo.sh, hack/e2e.sh
// and test/e2e read: the version, the registry and each image's digest.
func writeEnv(file, version, registry string, built []builtImage) error {
	var b strings.Builder
	fmt.Fprintf(&b, "JACK_VERSION=%s\nJACK_REGISTRY=%s\n", version, registry)
	for _, im := range built {
		v, ok := envNames[im.name]
		if !ok {
			continue
		}
		d, err := im.index.Digest()
		if err != nil {
			return err
		}
		fmt.Fprintf(&b, "%s=%s\n", v, d)
	}
	if err := os.MkdirAll(filepath.Dir(file), 0o755); err != nil {
		return err
	}
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(b.String()), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}
