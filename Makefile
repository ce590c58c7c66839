# vcluster roll — build, test and packaging.
#
#   make demo   the whole multi-site demo on this machine (installs what it needs)
#   make test   the whole test suite (installs what it needs)
#
include version.mk

GO        ?= go
# Shipped binaries (build, rpms, roll) are built by Go 1.23, the last release
# that runs on Linux 2.6.32 (Rocks 6, CentOS 6): go.mod's toolchain line,
# fetched through the module proxy. Tests run with $(GO) as it is.
SHIP_GOTOOLCHAIN ?= $(shell sed -n 's/^toolchain //p' go.mod)
PKG       := github.com/rocksclusters/vcluster
OUT       := build
BIN       := $(OUT)/bin
LDFLAGS   := -s -w -X $(PKG)/src/internal/version.Version=$(VERSION) \
             -X $(PKG)/src/internal/version.Release=$(RELEASE)
BINARIES  := $(notdir $(wildcard src/cmd/*))
GOTESTFLAGS ?= -timeout 45m -count=1
export GOFLAGS ?= -mod=mod
TOOLS     := $(CURDIR)/$(OUT)/tools
STATICCHECK_VERSION ?= v0.8.2
STATICCHECK := $(TOOLS)/staticcheck-$(STATICCHECK_VERSION)
# Packages that start goroutines run under the race detector (instead of a
# plain run); the rest, the test bed and the demo among them, run plain.
RACE_PKGS ?= ./src/cmd/... ./src/internal/agent/... ./src/internal/controller/... \
             ./src/internal/daemon/... ./src/internal/ksserver/... ./src/internal/monitor/... ./src/internal/overlay/... \
             ./src/internal/testenv/...
TESTENV   := VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) VCLUSTER_GOTOOLCHAIN=$(SHIP_GOTOOLCHAIN)

.PHONY: all build deps guest-image test test-go test-race vet staticcheck fuzz bench bench-overlay rpms roll demo eval clean help

all: build

help:
	@echo "make demo | test | build | vet | staticcheck | test-race | rpms | roll | eval | bench | bench-overlay | fuzz | clean"

# Debian packages, Go modules, the shipping toolchain and staticcheck;
# idempotent and quick when all is present.
deps: $(STATICCHECK)
	@bash tests/install-deps.sh
	@$(GO) mod download
	@GOTOOLCHAIN=$(SHIP_GOTOOLCHAIN) $(GO) mod download

$(STATICCHECK):
	@mkdir -p $(TOOLS)
	GOBIN=$(TOOLS) GOFLAGS= $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
	@mv $(TOOLS)/staticcheck $@

build:
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
		echo "go build $$b"; \
		GOTOOLCHAIN=$(SHIP_GOTOOLCHAIN) CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$b ./src/cmd/$$b || exit 1; \
	done

# The guest kernel and initramfs for real VM guests (tests/guest-image.sh;
# cached, a quick no-op when its inputs are unchanged).
guest-image:
	@bash tests/guest-image.sh

# Vet twice: $(GO)'s vet reports Go API newer than go.mod's go line, and the
# shipping toolchain's vet compiles every package and test with Go 1.23.
vet:
	$(GO) vet ./src/...
	GOTOOLCHAIN=$(SHIP_GOTOOLCHAIN) $(GO) vet ./src/...

staticcheck: $(STATICCHECK)
	$(STATICCHECK) ./src/...

# Integration tests find the built binaries through VCLUSTER_BIN.
test: deps build guest-image vet staticcheck test-go

# The fencing scenarios assert a libvirt sample at least every 200 ms; beside
# the TCG guests that other packages boot in parallel, 2 cores fall behind
# that bound, so they run alone, after the rest.
ALONE_PKGS ?= ./src/internal/fencetest/...
ALONE_LIST = $(shell $(GO) list -e $(ALONE_PKGS))

test-go: test-race
	$(TESTENV) $(GO) test $(GOTESTFLAGS) $(filter-out $(RACE_LIST) $(ALONE_LIST),$(shell $(GO) list -e ./src/...))
	$(TESTENV) $(GO) test $(GOTESTFLAGS) $(ALONE_PKGS)

test-race:
	$(TESTENV) $(GO) test -race $(GOTESTFLAGS) $(RACE_PKGS)

RACE_LIST = $(shell $(GO) list -e $(RACE_PKGS))

# Short fuzz pass over every Fuzz target (FUZZTIME per target).
FUZZTIME ?= 20s
fuzz:
	@bash tests/fuzz-all.sh $(FUZZTIME)

bench: build
	VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) $(GO) test -run '^$$' -bench . -benchmem ./src/...

bench-overlay: deps build
	@VCLUSTER_BIN=$(CURDIR)/$(BIN) bash tests/bench-overlay.sh

rpms: build
	@bash roll/build-rpms.sh

roll: rpms
	@bash roll/build-iso.sh

demo: deps build guest-image
	@VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) bash tests/demo.sh

eval: deps build
	@VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) bash tests/eval.sh

clean:
	rm -rf $(OUT)
