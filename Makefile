# The README's commands. `make serve` and `make test` set up everything they need.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PYPROJECT_SUM := $(shell cat pyproject.toml | cksum | cut -d' ' -f1)
# Two installs: what the service needs to run (`serve`), and the test tools on top (test, lint, bench...).
RUNTIME_STAMP := $(VENV)/.installed-runtime-$(PYPROJECT_SUM)
STAMP  := $(VENV)/.installed-dev-$(PYPROJECT_SUM)
PGVERSION := $(shell ls /etc/postgresql 2>/dev/null | head -1)
PYTEST_ARGS ?=
GO_DIR := verifiers/go
TS_DIR := verifiers/ts
TS_STAMP = $(TS_DIR)/node_modules/.installed-$(shell cat $(TS_DIR)/package-lock.json | cksum | cut -d' ' -f1)
# The Go verifier uses the standard library only: never reach for a module proxy.
GO := GOPROXY=off GOFLAGS=-mod=mod go
GO_FUZZTIME ?= 10s

.PHONY: all venv venv-runtime serve test lint typecheck postgres redis browser dist bench wrk clean go test-go ts-deps test-ts

all: test

## The service and what it needs to run, nothing more (no test tools, no browser driver)
$(RUNTIME_STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e .
	rm -f $(VENV)/.installed-runtime-*
	touch $@

## The test, lint and build tools (the `dev` extras), on top of the runtime install
$(STAMP): $(RUNTIME_STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	rm -f $(VENV)/.installed-dev-*
	touch $@

venv-runtime: $(RUNTIME_STAMP)

venv: $(STAMP)

## Run the service on SQLite under ./data with a development key, at http://127.0.0.1:8000
serve: venv-runtime
	$(BIN)/licensing serve

## Start the local PostgreSQL when it is down (tests need it at 127.0.0.1:5432)
postgres:
	@pg_isready -q -h 127.0.0.1 -p 5432 || pg_ctlcluster --skip-systemctl-redirect $(PGVERSION) main start
	@for i in 1 2 3 4 5 6 7 8 9 10; do pg_isready -q -h 127.0.0.1 -p 5432 && exit 0; sleep 1; done; \
	  echo "PostgreSQL did not come up at 127.0.0.1:5432" >&2; exit 1

## Start a local Redis when none answers at 127.0.0.1:6379 (the shared rate limit's tests need it; nothing on disk)
redis:
	@redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 || \
	  redis-server --bind 127.0.0.1 --port 6379 --save '' --appendonly no --daemonize yes >/dev/null
	@for i in 1 2 3 4 5 6 7 8 9 10; do redis-cli -h 127.0.0.1 -p 6379 ping >/dev/null 2>&1 && exit 0; sleep 1; done; \
	  echo "Redis did not come up at 127.0.0.1:6379" >&2; exit 1

## Debian's Chromium for the page tests (never a downloaded browser)
browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

## Debian's Go toolchain (1.19) for the Go verifier (never a downloaded toolchain)
go:
	@command -v go >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null)

## The Go verifier: vet, its tests (the whole conformance manifest), then each fuzz target for GO_FUZZTIME
test-go: go
	cd $(GO_DIR) && $(GO) vet ./...
	cd benchmarks/go && $(GO) vet .
	cd $(GO_DIR) && $(GO) test -count=1 ./...
	cd $(GO_DIR) && $(GO) test -run '^$$' -fuzz '^FuzzVerify$$' -fuzztime $(GO_FUZZTIME) -fuzzminimizetime 1s -parallel 1 ./licensing
	cd $(GO_DIR) && $(GO) test -run '^$$' -fuzz '^FuzzSignedClaims$$' -fuzztime $(GO_FUZZTIME) -fuzzminimizetime 1s -parallel 1 ./licensing
	cd $(GO_DIR) && $(GO) test -run '^$$' -fuzz '^FuzzVerifyReceipt$$' -fuzztime $(GO_FUZZTIME) -fuzzminimizetime 1s -parallel 1 ./licensing
	cd $(GO_DIR) && $(GO) test -run '^$$' -fuzz '^FuzzUsageLogFile$$' -fuzztime $(GO_FUZZTIME) -fuzzminimizetime 1s -parallel 1 ./licensing
	cd $(GO_DIR) && $(GO) test -run '^$$' -fuzz '^FuzzInstallationKeyPEMWithPassphrase$$' -fuzztime $(GO_FUZZTIME) -fuzzminimizetime 1s -parallel 1 ./licensing

## The TypeScript verifier's build tools, from the npm registry at the versions package-lock.json locks
$(TS_STAMP): $(TS_DIR)/package-lock.json $(TS_DIR)/package.json
	cd $(TS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

ts-deps: $(TS_STAMP)

## The TypeScript verifier: both builds, strict type check, then node's test runner (the whole manifest)
test-ts: ts-deps
	cd $(TS_DIR) && node scripts/build.mjs --tests
	cd $(TS_DIR) && node_modules/.bin/tsc --noEmit -p tsconfig.json
	cd $(TS_DIR) && node --test build/test/*.test.js test/*.test.cjs

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy

## Every test: lint, types, the Go and TypeScript verifiers, then the suite on SQLite and PostgreSQL
test: venv postgres redis browser lint typecheck test-go test-ts
	$(BIN)/pytest -n 2 $(PYTEST_ARGS)

## The two wheels, into dist/: licensing-verifier (the verifier and licensing/airgap/) and licensing-service
dist: venv
	rm -rf build/verifier dist
	mkdir -p build/verifier/licensing/airgap dist
	cp packaging/verifier/pyproject.toml packaging/verifier/README.md build/verifier/
	cp licensing/__init__.py licensing/verify.py licensing/py.typed build/verifier/licensing/
	cp licensing/airgap/*.py build/verifier/licensing/airgap/
	$(BIN)/python -m build --wheel --no-isolation --outdir dist build/verifier
	$(BIN)/python -m build --wheel --no-isolation --outdir dist .

## Debian's wrk, the native load generator of the HTTP benchmarks (never a Python client)
wrk:
	@command -v wrk >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null)

## Every benchmark, each against a baseline measured in the same run (ratios, not absolute figures, compare):
## the verifiers, the air-gapped usage report (airgap.py, airgap_ts.mjs: a year of days made and checked vs bare Ed25519), then HTTP on PostgreSQL with 2 workers through wrk: api.py (issuance, refresh, webhooks,
## the JWKS/revocation poll vs a bare insert), load.py (2 minutes of mixed load, worker memory), scale.py
## (1,000,000 licenses: p95 per endpoint and the query plans; a few minutes to load). Keep going past a
## missed target and fail at the end, so one slow figure does not hide the others.
bench: venv postgres redis go ts-deps wrk
	@failed=""; \
	run() { echo "== $$*"; "$$@" || failed="$$failed\n  $$*"; }; \
	run $(BIN)/python benchmarks/verify.py; \
	run $(BIN)/python benchmarks/revocations.py; \
	run $(BIN)/python benchmarks/airgap.py; \
	run sh -c 'cd benchmarks/go && $(GO) run .'; \
	run sh -c 'cd $(TS_DIR) && node scripts/build.mjs'; \
	run node benchmarks/verify_ts.mjs; \
	run node benchmarks/airgap_ts.mjs; \
	run $(BIN)/python benchmarks/api.py; \
	run $(BIN)/python benchmarks/webhooks.py; \
	run $(BIN)/python benchmarks/ratelimit.py; \
	run $(BIN)/python benchmarks/load.py; \
	run $(BIN)/python benchmarks/scale.py; \
	if [ -n "$$failed" ]; then printf "benchmarks that missed a target or failed:$$failed\n" >&2; exit 1; fi

clean:
	rm -rf build dist .pytest_cache .mypy_cache .ruff_cache $(TS_DIR)/dist $(TS_DIR)/build $(TS_DIR)/node_modules
