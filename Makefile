# vcluster roll — build, test and packaging.
#
#   make demo   the whole multi-site demo on this machine (installs what it needs)
#   make test   the whole test suite (installs what it needs)
#
include version.mk

GO        ?= go
PKG       := github.com/rocksclusters/vcluster
OUT       := build
BIN       := $(OUT)/bin
LDFLAGS   := -s -w -X $(PKG)/src/internal/version.Version=$(VERSION) \
             -X $(PKG)/src/internal/version.Release=$(RELEASE)
BINARIES  := $(notdir $(wildcard src/cmd/*))
GOTESTFLAGS ?= -timeout 45m
export GOFLAGS ?= -mod=mod

.PHONY: all build deps test test-go vet fuzz bench bench-overlay rpms roll demo eval clean help

all: build

help:
	@echo "make demo | test | build | rpms | roll | eval | bench | bench-overlay | fuzz | clean"

# Debian packages and Go modules; idempotent and quick when all is present.
deps:
	@bash tests/install-deps.sh
	@$(GO) mod download

build:
	@mkdir -p $(BIN)
	@for b in $(BINARIES); do \
		echo "go build $$b"; \
		CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS)" -o $(BIN)/$$b ./src/cmd/$$b || exit 1; \
	done

vet:
	$(GO) vet ./src/...

# Integration tests find the built binaries through VCLUSTER_BIN.
test: deps build vet test-go

test-go:
	VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) $(GO) test $(GOTESTFLAGS) ./src/...

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

demo: deps build
	@VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) bash tests/demo.sh

eval: deps build
	@VCLUSTER_BIN=$(CURDIR)/$(BIN) VCLUSTER_ROOT=$(CURDIR) bash tests/eval.sh

clean:
	rm -rf $(OUT)
