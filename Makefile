# netlab: build, demo, test. Run as root on Linux (network namespaces).
GO       ?= go
BIN      := bin/netlab
PKGS     := ./...
STATICCHECK_VERSION := v0.8.2
DEMO_LAB ?= demo
DEMO_SCENARIO := flannel-cluster-mode
# The scenario's own kube-proxy is IPVS 1.22. On a kernel without IPVS the
# demo runs it in the qemu guest (scripts/vmtest) to print its table, then
# leaves the same cluster up here with kube-proxy's iptables mode.
DEMO_FALLBACK := iptables@1.22

.PHONY: all build demo demo-down test unit fuzz e2e vmtest vmtest-selftest lint bench setup clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/netlab

setup:
	scripts/setup.sh

# The main job on a fresh machine: install what is missing, build, bring up
# flannel-cluster-mode (ACK Flannel on the VPC route table, seed 000) as
# closely as this kernel and netlab allow, fire its probes, print the table.
# A lab of that name that is already up may be someone else's on a shared
# machine: demo never removes it, it stops and says so.
demo: setup build
	@if $(BIN) status $(DEMO_LAB) >/dev/null 2>&1; then \
		echo "demo: lab $(DEMO_LAB) is already up (yours? $(BIN) down $(DEMO_LAB)); or: make demo DEMO_LAB=another-name" >&2; exit 1; fi
	@if $(BIN) doctor $(DEMO_SCENARIO) >/dev/null 2>&1; then \
		$(BIN) up $(DEMO_SCENARIO) --name $(DEMO_LAB) && echo && $(BIN) test $(DEMO_LAB); \
	else \
		echo "demo: this kernel has no IPVS: running $(DEMO_SCENARIO) (kube-proxy IPVS 1.22) in a qemu guest"; \
		scripts/setup.sh --test >/dev/null && scripts/vmtest -- $(BIN) test $(DEMO_SCENARIO) --timeout 3s; \
		echo; echo "demo: and here, the same cluster with kube-proxy $(DEMO_FALLBACK), left up:"; \
		$(BIN) up $(DEMO_SCENARIO) --name $(DEMO_LAB) --kube-proxy $(DEMO_FALLBACK) && echo && $(BIN) test $(DEMO_LAB); \
	fi
	@echo
	@echo "The lab is still up: try '$(BIN) trace $(DEMO_LAB) internet svc/nginx1:loadbalancer@node-180'"
	@echo "(every device, NAT and rule on the way), '$(BIN) rules $(DEMO_LAB) node-180 --table nat'"
	@echo "or '$(BIN) graph $(DEMO_LAB)'. Remove it with: $(BIN) down $(DEMO_LAB)"

demo-down: build
	$(BIN) down $(DEMO_LAB)

# Everything: install what the tests need (iptables, ipset, conntrack, qemu
# and a guest kernel; nothing when all is there), static checks, unit +
# native end-to-end tests, then the end-to-end tests again inside a qemu
# guest with a full distribution kernel (IPVS, ipvlan, 802.1Q, dummy), and
# the harness's own self-test.
test:
	scripts/setup.sh --test
	@ip netns list | sort >.netns-before
	$(MAKE) lint unit fuzz vmtest-selftest vmtest
	@ip netns list | sort | diff -u .netns-before - >&2 && rm -f .netns-before || { rm -f .netns-before; echo "make test: network namespaces were left behind (above)" >&2; exit 1; }

# One package at a time: the kube-proxy load checks and the e2e labs both
# create namespaces by the hundred, and on two cores they starve each other.
unit:
	$(GO) test -count=1 -p 1 $(PKGS)

# The scenario loader against generated input, for a bounded time (FUZZTIME):
# no panic, no hang, a valid topology or a message naming the file. A
# crasher lands in lab/topology/testdata/fuzz/FuzzLoad/; commit it and
# `go test ./lab/topology` replays it from then on. Minimizing a new input
# takes up to 60 s by default, which would eat a 20 s run whole.
FUZZTIME ?= 20s
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzLoad$$' -fuzztime $(FUZZTIME) -fuzzminimizetime 2s ./lab/topology
	$(GO) test -run '^$$' -fuzz '^FuzzParseKubeProxy$$' -fuzztime 5s -fuzzminimizetime 2s ./lab/topology

e2e:
	$(GO) test -count=1 -v ./e2e

vmtest:
	scripts/vmtest

vmtest-selftest:
	scripts/vmtest-selftest

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed: $$out" >&2; exit 1; fi
	$(GO) vet $(PKGS)
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(PKGS)

bench: build
	scripts/bench

clean:
	rm -rf bin .vmtest
