# idemaudit — make run (audit sample-logs/), make test (what CI runs).
GO      ?= go
BIN     := bin/idemaudit
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test lint bench fuzz oracle sample clean

all: lint test build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/idemaudit

# The main job: audit the checked-in week of sample logs and print the report.
run: build
	./$(BIN) audit --config sample-logs/idemaudit.toml sample-logs/

test:
	$(GO) test -count=1 ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Regenerate sample-logs/ (deterministic: the same bytes every time).
sample: build
	rm -f sample-logs/*.jsonl sample-logs/*.jsonl.gz
	./$(BIN) sample sample-logs/

# idemaudit against the hand-written DuckDB SQL baseline on generated 1M and
# 10M-call corpora (BENCH_SIZES=1000000 for the small one only), plus
# pathological groups; writes bench/results.md. Corpora are cached in .bench/.
bench: build
	$(GO) build -o bin/baseline ./bench/baseline
	scripts/bench.sh

# Each fuzz target for FUZZTIME (go test runs their seeds in make test).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzCanonicalArgs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzIdentityPaths$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzIngestSequence$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/report -run '^$$' -fuzz '^FuzzEscaping$$' -fuzztime $(FUZZTIME)

# Differential test against an independent oracle written from the spec and
# README text alone (scripts/oracle): ORACLE_RUNS random corpora of up to
# 4 files each, every disagreement printed (a few minutes; not in make test).
ORACLE_RUNS ?= 100
oracle: build
	IDEMAUDIT_BIN=$(BIN) python3 scripts/oracle/compare.py 1 $(ORACLE_RUNS) 60
	IDEMAUDIT_BIN=$(BIN) FIRST_BAD=0.5 python3 scripts/oracle/compare.py 5001 20 60
	IDEMAUDIT_BIN=$(BIN) python3 scripts/oracle/period.py 1 40 80

clean:
	rm -rf bin
