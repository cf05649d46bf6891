# make demo      run examples/hello against a broker (found, started or installed)
# make test      formatting, vet, generated code, then all tests with -race
# make generate  regenerate the z*.go method files from the amqp-specs XML
# make fuzz      run every fuzz target for $(FUZZTIME); fuzz-short for 5s each
# make bench     run the benchmarks
# make chaos     the long chaos test on the local cluster (CHAOS_DURATION, default 10m)

BROKER   := bash scripts/broker.sh
FUZZTIME ?= 60s
# How much make test fuzzes each target, after the tests: a count of inputs,
# not a duration. Go 1.26's coordinator can fail a duration-bounded run with a
# bare "context deadline exceeded" at the deadline (go.dev/issue/75804, fixed
# in Go 1.27); a count has no deadline, so that race cannot happen.
CI_FUZZTIME ?= 30000x

CLUSTER  := bash scripts/cluster.sh
CHAOS_DURATION ?= 10m

.PHONY: demo test generate check-generate bench fuzz fuzz-short chaos clean

demo:
	@url=$$($(BROKER) ensure) && AMQP_URL="$$url" go run ./examples/hello

# One recipe line, so the URL printed by broker.sh reaches go test. The
# chaos tests start the local cluster (scripts/cluster.sh) when they run; it
# is stopped at the end, whatever the outcome.
test:
	@set -e; \
	trap '$(CLUSTER) stop >/dev/null 2>&1 || true' EXIT; \
	url=$$($(BROKER) ensure); \
	$(BROKER) deps; \
	unformatted=$$(gofmt -l .); \
	if [ -n "$$unformatted" ]; then \
		echo "gofmt: these files need formatting (run gofmt -w):"; echo "$$unformatted"; exit 1; \
	fi; \
	echo "go vet ./..."; go vet ./...; \
	$(MAKE) --no-print-directory check-generate; \
	echo "go test -race -count=1 ./...  (AMQP_URL=$$(echo "$$url" | sed -E 's#(://[^:/@]*:)[^@]*@#\1xxxxx@#'))"; \
	CI=$${CI:-} AMQP_URL="$$url" go test -race -count=1 ./...; \
	$(MAKE) --no-print-directory fuzz FUZZTIME=$(CI_FUZZTIME)

generate:
	@$(BROKER) deps
	go generate ./...

# Fails when the committed z*.go files differ from what go generate writes now.
# Without the spec XML (a machine that is not Debian) it is skipped with a
# notice, outside CI; under CI=true broker.sh deps has installed it.
SPEC_XML := /usr/share/amqp/specs/0-8/amqp0-8.stripped.xml
check-generate:
	@if [ ! -f $(SPEC_XML) ] && [ "$${CI:-}" != true ]; then \
		echo "check-generate: skipped: $(SPEC_XML) is missing (Debian's amqp-specs); the committed z*.go files are used as they are"; exit 0; \
	fi; \
	$(MAKE) --no-print-directory generate || exit 1; \
	if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
		echo "check-generate: not a git work tree, skipped"; exit 0; \
	fi; \
	if ! git diff --exit-code --stat -- ':(glob)**/z*.go'; then \
		echo "check-generate: generated files are out of date; run 'make generate' and commit them"; exit 1; \
	fi; \
	new=$$(git ls-files --others --exclude-standard -- ':(glob)**/z*.go'); \
	if [ -n "$$new" ] && [ "$${CI:-}" = true ]; then \
		echo "check-generate: generated files are not committed:"; echo "$$new"; exit 1; \
	fi

# The fake-broker micro-benchmarks, then the side-by-side comparison with
# amqp091-go against a real broker (bench/, its own module). BENCHFLAGS go to
# the comparison, e.g. make bench BENCHFLAGS="-scale 0.1 -runs 5".
bench:
	@set -e; \
	url=$$($(BROKER) ensure); \
	AMQP_URL="$$url" go test -run '^$$' -bench . -benchmem ./...; \
	cd bench && AMQP_URL="$$url" go run . $(BENCHFLAGS)

# Every FuzzXxx target of every package, one after the other.
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
		for target in $$(go test -list '^Fuzz' "$$pkg" | grep '^Fuzz' || true); do \
			echo "fuzz $$pkg $$target ($(FUZZTIME))"; \
			go test -run '^$$' -fuzz "^$$target\$$" -fuzztime $(FUZZTIME) "$$pkg"; \
		done; \
	done

fuzz-short:
	@$(MAKE) --no-print-directory fuzz FUZZTIME=5s

# The fault schedule of internal/chaos repeated for CHAOS_DURATION on each
# protocol, against the local three-node cluster, stopped at the end.
chaos:
	@set -e; \
	trap '$(CLUSTER) stop >/dev/null 2>&1 || true' EXIT; \
	url=$$($(BROKER) ensure); \
	$(CLUSTER) start >/dev/null; \
	CI=$${CI:-} AMQP_URL="$$url" go test -count=1 -timeout 0 -v -run '^TestChaos' ./internal/chaos -args -chaos.duration=$(CHAOS_DURATION)

clean:
	go clean ./...
	rm -rf bin/ *.test *.out
