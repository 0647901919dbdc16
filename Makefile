# jack-operator — every tool this Makefile uses is built from source into bin/
# by hack/build-tools.sh; nothing is downloaded from release pages.

BIN ?= $(CURDIR)/bin
CONTROLLER_GEN := $(BIN)/controller-gen
HELM := $(BIN)/helm
KUBECTL := $(BIN)/kubectl
KUBECONFIG_DEMO := $(BIN)/kubeconfig

export KUBEBUILDER_ASSETS := $(BIN)
export KUBEBUILDER_CONTROLPLANE_START_TIMEOUT ?= 90s

# The version stamped into the binaries and the images' tags (make build, images, push, cluster-images).
VERSION ?= dev
VERSION_LDFLAGS := -X github.com/jack-io/jack-operator/internal/version.Version=$(VERSION)

GO_TEST_FLAGS ?= -count=1
GO_PACKAGES ?= ./...
# How long make fuzz runs each fuzz target (a go test -fuzztime: 20s, 1m, 10000x).
FUZZTIME ?= 20s
# The load generator of make load-auth: go (built in) or wrk (apt-get install wrk).
LOAD ?= go
# More flags for make load-flood's hack/slowflood, e.g. -duration 60s or -sidecar-args "--max-connections 4096".
FLOOD_ARGS ?=
# Flags for make load-logins' hack/loginburst; the default runs the sidecar in a 128Mi memory cgroup with the injector's GOMEMLIMIT (root).
LOGINS_ARGS ?= -memory-limit 128Mi -gomemlimit auto

.DEFAULT_GOAL := help

##@ General

.PHONY: help
help: ## Show the targets.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make <target>\n"} /^[a-zA-Z_0-9-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Development

.PHONY: manifests
manifests: $(CONTROLLER_GEN) ## Generate CRDs, RBAC and webhook configurations into config/ from the markers in api/ and controllers/, copy them into the chart and config/default, and write the chart's README from values.yaml.
	$(CONTROLLER_GEN) rbac:roleName=manager-role crd webhook paths="./..." output:crd:artifacts:config=config/crd/bases output:rbac:artifacts:config=config/rbac output:webhook:artifacts:config=config/webhook
	go run ./hack/chartgen
	go run ./hack/chartdoc

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Generate deepcopy code for the API types.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths="./api/..."

.PHONY: fmt
fmt: ## Run gofmt on the tree.
	gofmt -l -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: verify
verify: manifests generate ## Regenerate everything and fail if the tree changed, or if code is unformatted or vet complains.
	@hack/verify-clean.sh
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { echo "gofmt would change:"; gofmt -l $$(git ls-files '*.go'); exit 1; }
	go vet ./...

.PHONY: test
test: tools manifests generate vet ## Build the test binaries if missing, then run every test against a real API server (and hack/images' against a real registry).
	JACK_REQUIRE_KREW=1 go test $(GO_TEST_FLAGS) $(GO_PACKAGES)
ifeq ($(GO_PACKAGES),./...)
	cd hack/images && JACK_REQUIRE_REGISTRY=1 go test $(GO_TEST_FLAGS) ./...
endif

##@ Run it locally

.PHONY: demo
demo: tools manifests ## Start a local Kubernetes built from source, install the operator with Helm, a SigningKey, three users and jack-echo behind the sidecar, build kubectl jack (bin/kubectl-jack); prints what to try. Needs root.
	@hack/demo.sh up

.PHONY: demo-down
demo-down: ## Stop the cluster started by make demo and remove everything it made.
	@hack/demo.sh down

.PHONY: e2e
e2e: tools manifests ## Run the end-to-end journey (test/e2e) on the local cluster, starting and stopping it unless it already runs. Needs root.
	@hack/e2e.sh

.PHONY: soak
soak: tools manifests ## The journey with ten forced rotations under cross-replica traffic and 1,000 logout-then-use attempts (docs/performance.md's figures). Needs root.
	@JACK_E2E_ROTATIONS=10 JACK_E2E_LOGOUTS=1000 hack/e2e.sh -timeout 60m

##@ Build

.PHONY: build
build: ## Build the operator (bin/manager), the sidecar (bin/jack-auth) and the kubectl plugin (bin/kubectl-jack: put bin/ on PATH for kubectl jack), stamped with VERSION (default dev).
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/manager .
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/jack-auth ./sidecar
	go build -ldflags "$(VERSION_LDFLAGS)" -o $(BIN)/kubectl-jack ./cmd/kubectl-jack

.PHONY: bench
bench: ## Run the Go benchmarks of the hot paths (token, policy, forward auth).
	go test -run '^$$' -bench . -benchmem ./sidecar/internal/token/ ./sidecar/internal/policy/ ./sidecar/internal/server/

.PHONY: bench-cache
bench-cache: tools ## Measure the operator's RSS on an empty cluster and with 10,000 unrelated 10 KB Secrets and ConfigMaps (the real binary, the chart's RBAC, a real API server; fails past 10 MB of growth).
	go test -run '^$$' -bench OperatorRSS -benchtime 1x -timeout 30m ./test/rbac/

.PHONY: fuzz
fuzz: ## Run every fuzz target (go test -list '^Fuzz') for FUZZTIME each (default 20s), one after another; a crash fails and leaves its input in the package's testdata/fuzz.
	FUZZTIME=$(FUZZTIME) hack/fuzz.sh

.PHONY: load-auth
load-auth: build ## Load /auth beside a bare net/http handler and print requests/s and their ratio (LOAD=wrk for Debian's wrk).
	go run ./hack/loadauth -sidecar $(BIN)/jack-auth -load $(LOAD)

.PHONY: load-flood
load-flood: build ## Hold 2,600 slow connections to the sidecar and measure other clients' logins and /auth meanwhile (about 50 s; FLOOD_ARGS for more flags).
	go run ./hack/slowflood -sidecar $(BIN)/jack-auth $(FLOOD_ARGS)

.PHONY: load-logins
load-logins: build ## Print the sidecar's idle RSS with 1,000 and 10,000 users, and its RSS during and 30 s after 200 logins, 16 in flight (about 70 s; LOGINS_ARGS for more flags).
	go run ./hack/loginburst -sidecar $(BIN)/jack-auth $(LOGINS_ARGS)

.PHONY: tools
tools: ## Build controller-gen, etcd, kube-apiserver, kubectl, helm, the image registry and krew from source into bin/ (skips what is up to date).
	@hack/build-tools.sh

$(CONTROLLER_GEN): hack/tools/controller-gen/go.mod hack/tools/controller-gen/go.sum
	@hack/build-tools.sh controller-gen

$(HELM): hack/tools/helm/go.mod hack/tools/helm/go.sum
	@hack/build-tools.sh helm

##@ Helm chart and kustomize

.PHONY: chart-lint
chart-lint: $(HELM) manifests ## Lint the Helm chart (charts/jack-operator) strictly.
	$(HELM) lint charts/jack-operator --strict

.PHONY: test-chart
test-chart: tools manifests ## Lint, render and install the chart, and compare config/default with it, against a real API server.
	go test $(GO_TEST_FLAGS) ./test/chart/

##@ Gateways

.PHONY: test-gateways
test-gateways: ## Run nginx (Debian's) and Traefik (built from source, ~6 min the first time) in front of the sidecar with the configurations of docs/gateways/, and attack them (test/gateways).
	@start=$$(date +%s); hack/build-tools.sh traefik && hack/install-nginx.sh; \
	  echo "test-gateways: gateways ready in $$(( $$(date +%s) - start ))s"
	@start=$$(date +%s); JACK_REQUIRE_GATEWAYS=1 go test $(GO_TEST_FLAGS) ./test/gateways/...; rc=$$?; \
	  echo "test-gateways: tests took $$(( $$(date +%s) - start ))s"; exit $$rc

##@ Local cluster (root; a real single-node Kubernetes in private namespaces)

.PHONY: cluster-up
cluster-up: ## Start a single-node Kubernetes 1.37 built from source (etcd, control plane, kubelet, kube-proxy, containerd) in private namespaces; builds what is missing. KUBECONFIG=bin/cluster/kubeconfig.
	@hack/cluster/cluster.sh up

.PHONY: cluster-down
cluster-down: ## Stop the local cluster, remove its files and cgroups, and check that nothing of it is left.
	@hack/cluster/cluster.sh down

.PHONY: cluster-images
cluster-images: ## Build every image as VERSION (default dev), push it to the local cluster's registry (localhost:5001/jack) and write its digests to bin/images/VERSION.env.
	@hack/cluster/cluster.sh images $(VERSION)

##@ Images and releases (no Docker: hack/images; a Dockerfile for those who use it)

.PHONY: images
images: ## Build the operator, sidecar, jack-echo and pause images (linux/amd64 and arm64, reproducible, with an SBOM) as VERSION (default dev) into the OCI layout bin/images/VERSION; pushes nothing.
	cd hack/images && go run . -version $(VERSION)

.PHONY: push
push: ## Push the images and the Helm chart (an OCI artifact, REGISTRY/charts/jack-operator) to REGISTRY=host/path as VERSION (default dev).
	@hack/release.sh push "$(REGISTRY)" "$(VERSION)"

.PHONY: release
release: ## From a clean tree, push the images as VERSION=x.y.z and the chart VERSION pinning their digests to REGISTRY=host/path, then build the plugin's files (make plugin-release); prints the helm install line and what to upload.
	@hack/release.sh release "$(REGISTRY)" "$(VERSION)"

.PHONY: plugin-release
plugin-release: ## Build kubectl jack's release archives (linux and darwin amd64/arm64, windows/amd64; reproducible), SHA256SUMS and the filled krew manifest jack.yaml as VERSION (default dev) into bin/release/VERSION (PLATFORMS=linux/amd64 for fewer, PLUGIN_URL_BASE for the download URL).
	@hack/release.sh plugin "$(VERSION)"

.PHONY: test-krew
test-krew: ## Build krew from source and install the plugin's release archive with it, offline (test/krew; make test runs it too).
	@hack/build-tools.sh kubectl-krew validate-krew-manifest kubectl
	JACK_REQUIRE_KREW=1 go test $(GO_TEST_FLAGS) -v ./test/krew/

.PHONY: test-images
test-images: ## Test hack/images (its own module, which make test does not reach): two builds give the same digests, the config, layer and SBOM, a push to a real registry (bin/registry), the Dockerfile kept in step.
	@hack/build-tools.sh registry
	cd hack/images && JACK_REQUIRE_REGISTRY=1 go test $(GO_TEST_FLAGS) ./...

##@ Gateway manifests

.PHONY: gateway-crds
gateway-crds: ## Copy the CRDs of Traefik, Gateway API, Envoy Gateway and Istio (and ingress-nginx's annotation reference) from their Go modules into bin/gateway-crds/.
	@hack/gateway-crds.sh

.PHONY: test-gateway-manifests
test-gateway-manifests: gateway-crds ## Apply every manifest of config/samples/gateways, strictly, to a real API server with each gateway's own CRDs.
	@hack/build-tools.sh etcd kube-apiserver
	JACK_REQUIRE_GATEWAYS=1 go test $(GO_TEST_FLAGS) ./test/gatewaymanifests/
