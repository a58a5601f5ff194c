# idemaudit — make run (audit sample-logs/), make test (what CI runs).
GO      ?= go
BIN     := bin/idemaudit
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

.PHONY: all build run test lint bench fuzz sample clean

all: lint test build

build:
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/idemaudit

# The main job: audit the checked-in week of sample logs and print the report.
run: build
	./$(BIN) audit sample-logs/

test:
	$(GO) test -count=1 ./...

lint:
	$(GO) vet ./...
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

# Regenerate sample-logs/ (deterministic: the same bytes every time).
sample: build
	rm -f sample-logs/*.jsonl sample-logs/*.jsonl.gz
	./$(BIN) sample sample-logs/

# Wall time, throughput and peak memory of audit on generated corpora
# (BENCH_SIZES="1000000 10000000" for more); corpora are cached in .bench/.
bench: build
	scripts/bench.sh

# Each fuzz target for FUZZTIME (go test runs their seeds in make test).
FUZZTIME ?= 30s
fuzz:
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/ingest -run '^$$' -fuzz '^FuzzCanonicalArgs$$' -fuzztime $(FUZZTIME)
	$(GO) test ./internal/report -run '^$$' -fuzz '^FuzzEscaping$$' -fuzztime $(FUZZTIME)

clean:
	rm -rf bin
