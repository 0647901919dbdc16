# syntax=docker/dockerfile:1
# jack-operator's images for Docker or Buildah users. The project's own builds
# (make images, make push, make release) use hack/images instead, which needs
# no container builder and makes reproducible multi-arch images with an SBOM;
# hack/images/dockerfile_test.go keeps the go build flags and binary paths here
# the same as there.
#
#   docker build --build-arg VERSION=0.2.0 -t REGISTRY/jack-operator:0.2.0 .
#   docker build --build-arg VERSION=0.2.0 --target jack-auth -t REGISTRY/jack-auth:0.2.0 .
#   docker build --target jack-echo -t REGISTRY/jack-echo:dev .
#   docker buildx build --platform linux/amd64,linux/arm64 --build-arg VERSION=0.2.0 --push -t ... .
#
# The default target is the operator.

ARG GO_VERSION=1.26

FROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-bookworm AS build
ARG TARGETOS=linux
ARG TARGETARCH
ARG VERSION=dev
WORKDIR /src
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=auto -ldflags "-s -w -buildid= -X github.com/jack-io/jack-operator/internal/version.Version=${VERSION}" \
    -o /out/ . ./sidecar ./hack/jack-echo

FROM gcr.io/distroless/static-debian12:nonroot AS base
ARG VERSION=dev
ARG REVISION=""
LABEL org.opencontainers.image.source="https://github.com/jack-io/jack-operator" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0"
USER 65532:65532

FROM base AS jack-auth
LABEL org.opencontainers.image.title="jack-auth"
COPY --from=build /out/sidecar /jack-auth
ENTRYPOINT ["/jack-auth"]

FROM base AS jack-echo
LABEL org.opencontainers.image.title="jack-echo"
COPY --from=build /out/jack-echo /jack-echo
ENTRYPOINT ["/jack-echo"]

FROM base AS jack-operator
LABEL org.opencontainers.image.title="jack-operator"
COPY --from=build /out/jack-operator /manager
ENTRYPOINT ["/manager"]
