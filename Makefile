# pixmill — run `make help` for the targets.
GO        ?= go
BIN       := bin/pixmill
PKGS      := ./...
# gen2brain/webp must not dlopen a system libwebp: keep the binary static.
# jpegturbo: decode JPEGs with libjpeg-turbo (linked statically, scaled decode;
# docs/levers.md) where its header is installed and cgo works; else pure Go.
TAGS      ?= nodynamic $(shell test -f /usr/include/jpeglib.h && test "$$($(GO) env CGO_ENABLED)" = 1 && echo jpegturbo)
FUZZTIME  ?= 30s

.DEFAULT_GOAL := help

.PHONY: help
help: ## list the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## build bin/pixmill
	$(GO) build -tags '$(TAGS)' -o $(BIN) ./cmd/pixmill

.PHONY: run
run: build ## run the service on the embedded default (SQLite + files under storage/)
	./$(BIN) serve

.PHONY: test
test: ## run every test with the race detector (integration suites skip without their servers)
	PIXMILL_BUILD_TAGS='$(TAGS)' $(GO) test -tags '$(TAGS)' -race -count=1 -timeout 10m $(PKGS)

.PHONY: test-short
test-short: ## fast unit tests only
	$(GO) test -tags '$(TAGS)' -short -count=1 $(PKGS)

.PHONY: fuzz
fuzz: ## run the fuzz targets (ops parser, decode guard) for FUZZTIME each
	$(GO) test -tags '$(TAGS)' -run '^$$' -fuzz '^FuzzParseOps$$' -fuzztime $(FUZZTIME) ./internal/job/
	$(GO) test -tags '$(TAGS)' -run '^$$' -fuzz '^FuzzProbe$$' -fuzztime $(FUZZTIME) ./internal/processing/

# make bench: BENCH picks the Go benchmarks (a regexp), BENCHCOUNT repeats them for
# benchstat, BENCH_C is the load benchmark's concurrency, BENCH_FLAGS adds
# pixmill-bench flags (e.g. --workload W3 -n 100). Results land in bin/bench/.
BENCH       ?= .
BENCHTIME   ?= 1s
BENCHCOUNT  ?= 1
BENCH_C     ?= 2
BENCH_FLAGS ?=
BENCH_DIR   := bin/bench

.PHONY: bench
bench: build ## Go micro-benchmarks, then the end-to-end load benchmark W1–W5 + probes (docs/benchmarks.md)
	@mkdir -p $(BENCH_DIR)
	bash -o pipefail -c '$(GO) test -tags "$(TAGS)" -run "^$$" -bench "$(BENCH)" -benchmem -benchtime $(BENCHTIME) -count $(BENCHCOUNT) -timeout 30m $(PKGS) | tee $(BENCH_DIR)/micro.txt'
	$(GO) build -tags '$(TAGS)' -o bin/pixmill-bench ./cmd/pixmill-bench
	bash -o pipefail -c './bin/pixmill-bench --all -c $(BENCH_C) --server $(BIN) --json $(BENCH_DIR)/e2e.json $(BENCH_FLAGS) | tee $(BENCH_DIR)/e2e.txt'

empty     :=
comma     := ,
LINT_TAGS  = $(subst $(empty) $(empty),$(comma),$(strip $(TAGS)))

.PHONY: lint
lint: ## golangci-lint (pinned in go.mod's tool block), on the plain build and on the one with TAGS
	$(GO) tool golangci-lint run $(PKGS)
	$(GO) tool golangci-lint run --build-tags '$(LINT_TAGS)' $(PKGS)

.PHONY: fmt
fmt: ## gofmt every file
	gofmt -w $$(git ls-files '*.go')

.PHONY: tidy
tidy: ## go mod tidy
	$(GO) mod tidy

.PHONY: up
up: ## start the scaled-out stack of docker-compose.yml (PostgreSQL, S3, api, 2 workers) on :8080
	docker compose up -d --build

.PHONY: down
down: ## stop the docker compose stack (data volumes are kept; `docker compose down -v` drops them)
	docker compose down

.PHONY: clean
clean: ## remove the binary and local data (storage/ keeps its .gitkeep)
	rm -rf bin
	find storage -mindepth 1 ! -name .gitkeep -delete
