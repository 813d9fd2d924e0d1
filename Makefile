# Two commands matter: `make generate` (rewrite base/, overlays/, clusters/
# and the derived docs from platform.yaml) and `make test` (prove the result). See README.md.
GO ?= go
export GOTOOLCHAIN := local
export GOFLAGS := -mod=readonly

.PHONY: generate test vet deps e2e runtime bench update build

# The tree, then the docs derived from the description (docs/secret-inventory.md,
# network-flows.md, operations-tables.md), which internal/repocheck renders.
generate:
	$(GO) run ./cmd/platformctl generate -f platform.yaml -C .
	@$(GO) test ./internal/repocheck -run 'TestDerivedDocsAreFresh' -count=1 -update >/dev/null || \
	  $(GO) test ./internal/repocheck -run 'TestDerivedDocsAreFresh' -count=1 -update

test: vet deps
	$(GO) test ./...

# Debian packages the tests run for real (PostgreSQL); installs only what is missing.
deps:
	@bash scripts/test-deps.sh

GCI_SECTIONS = -s standard -s default -s 'prefix(lbl.gov/invenio-gitops)'

vet:
	@test -z "$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))" || { echo "gofmt needed on:"; gofmt -l .; exit 1; }
	@# Imports in three groups, in this order: standard library, third
	@# party, this module (the goimports convention, enforced by gci, pinned
	@# in go.mod's tool directive: goimports sorts within a group only).
	@f="$$($(GO) tool gci list $(GCI_SECTIONS) $$(git ls-files --cached --others --exclude-standard '*.go' 2>/dev/null || find . -name '*.go'))"; \
	  test -z "$$f" || { echo "imports not in the three groups (fix: $(GO) tool gci write $(GCI_SECTIONS) <file>):"; echo "$$f"; exit 1; }
	$(GO) vet ./...

# Proof on a real control plane (docs/e2e.md): builds the pinned binaries
# into .cache/e2e once (reused afterwards), then runs the e2e tests.
# The long proofs print every test's output as it runs and, at the end, the
# whole output of each failed test again (gotestsum): a CI log's tail then
# shows why, not only which.
GOTESTSUM = $(GO) run gotest.tools/gotestsum@v1.13.0 --format standard-verbose

e2e:
	@bash scripts/e2e-tools.sh
	eval "$$(bash scripts/e2e-tools.sh --print-env)" && $(GOTESTSUM) -- -tags e2e -count=1 -timeout 60m ./internal/e2e/

# The environments run on the real programs (docs/runtime.md): installs the
# pinned InvenioRDM, OpenSearch, restic and exporters into .cache/runtime
# once (reused afterwards), then runs dev and prod pod by pod. Needs root.
runtime:
	@bash scripts/runtime-tools.sh
	$(GOTESTSUM) -- -tags runtime -count=1 -timeout 80m ./internal/runtimetest/

# Refresh golden files and generated docs after an intended change.
update:
	$(GO) test ./... -update

# The four speed goals of docs/speed.md (generate and diff against
# `kubectl kustomize`, 100 environments, a re-run), judged: exit 1 on a miss.
bench:
	bash scripts/bench.sh

build:
	$(GO) build -o bin/platformctl ./cmd/platformctl
