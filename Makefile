# Two commands matter: `make generate` (rewrite base/ and overlays/ from
# platform.yaml) and `make test` (prove the result). See README.md.
GO ?= go
export GOTOOLCHAIN := local
export GOFLAGS := -mod=readonly

.PHONY: generate test vet deps bench update build

generate:
	$(GO) run ./cmd/platformctl generate -f platform.yaml -C .

test: vet deps
	$(GO) test ./...

# Debian packages the tests run for real (PostgreSQL); installs only what is missing.
deps:
	@bash scripts/test-deps.sh

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	$(GO) vet ./...

# Refresh golden files and generated docs after an intended change.
update:
	$(GO) test ./... -update

# Time generate (including the in-process build of every environment)
# against `kubectl kustomize` of the same overlays.
bench:
	bash scripts/bench.sh

build:
	$(GO) build -o bin/platformctl ./cmd/platformctl
