# Every target installs what it needs first (Node 22, npm packages, the local stack),
# idempotently, so `make run` and `make test` work on a fresh machine.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

NODE_BIN := $(shell scripts/ensure-node.sh)
export PATH := $(NODE_BIN):$(PATH)
STACK_ENV = eval "$$(scripts/stack.sh env)"

.PHONY: help deps build stack-up stack-down stack-status stack-env migrate run test test-unit lint format bench bench-quick bench-compare openapi fuzz compose-config

help:
	@echo "make run          set everything up, migrate, and run all roles (Swagger UI at /docs)"
	@echo "make test         set everything up and run the whole test suite"
	@echo "make stack-env    print export lines for DATABASE_URL, NATS_URL, KUBECONFIG, ETCD_ENDPOINTS, Node 22 and kubectl"
	@echo "make stack-down   stop PostgreSQL, NATS and the Kubernetes control plane"
	@echo "make bench        run the benchmarks and print their figures (BENCH=intake: only that one; BENCH_QUICK=1: tiny sizes)"
	@echo "make bench-compare  run the benchmarks on BENCH_BASE (default: before issue 13) and on this checkout, side by side"
	@echo "make bench-quick  check that every benchmark runs and returns figures (tiny sizes, about a minute)"
	@echo "make fuzz         fuzz the API with schemathesis against its OpenAPI document (FUZZ=long: a longer run)"

node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

deps: node_modules/.installed

build: deps
	npm run -s build

stack-up:
	scripts/stack.sh up

stack-down:
	scripts/stack.sh down

stack-status:
	@scripts/stack.sh status

stack-env:
	@scripts/stack.sh env

migrate: build stack-up
	$(STACK_ENV); npm run -s migration:run

# Local defaults: all roles in one process, any namespace but Kubernetes' own. Override in the environment.
# An ADMIN_API_KEY already set is used as it is; otherwise a development admin key is made once, kept
# (mode 600) beside the stack's state, printed when made, and passed as ADMIN_API_KEY (the API registers it).
DEV_ADMIN_KEY_FILE = $${K8SDM_STATE:-$$HOME/.local/state/k8s-deployment-manager}/dev-admin-api-key
run: migrate
	$(STACK_ENV); export ROLE="$${ROLE:-all}" MANAGED_NAMESPACES="$${MANAGED_NAMESPACES:-*}" LOG_FORMAT="$${LOG_FORMAT:-pretty}"; \
	if [ -z "$${ADMIN_API_KEY:-}" ]; then \
	  keyfile="$(DEV_ADMIN_KEY_FILE)"; \
	  if [ ! -s "$$keyfile" ]; then \
	    mkdir -p "$$(dirname "$$keyfile")"; \
	    (umask 077 && node dist/src/keys.main.js generate > "$$keyfile.tmp") && mv "$$keyfile.tmp" "$$keyfile"; \
	    echo "Development admin API key (kept in $$keyfile): $$(cat "$$keyfile")"; \
	    echo "  curl -H \"Authorization: Bearer \$$(cat $$keyfile)\" localhost:3000/v1/requests"; \
	  fi; \
	  chmod 600 "$$keyfile"; \
	  export ADMIN_API_KEY="$$(cat "$$keyfile")"; \
	fi; \
	exec node dist/src/main.js

test-unit: deps
	npm run -s test -- --selectProjects unit

lint: deps
	npx eslint .
	npx prettier --check .

format: deps
	npx prettier --write .

test: build stack-up
	scripts/stack.test.sh >/dev/null 2>&1 || scripts/stack.test.sh
	npx tsc --noEmit -p tsconfig.json
	npx eslint .
	npx depcruise src --config .dependency-cruiser.cjs
	scripts/check-alerts.sh
	npx prettier --check . >/dev/null
	$(STACK_ENV); npm run -s test -- --runInBand
	$(STACK_ENV); scripts/fuzz.sh
	npx tsc -p tsconfig.bench.json
	$(STACK_ENV); node dist/bench/run.js --quick

# Regenerates openapi.json from the API, then the typed client's types from it (clients/typescript/src/schema.ts).
openapi: build stack-up
	$(STACK_ENV); npm run -s openapi:export
	npm run -s client:generate

# schemathesis against an API it boots, every check and phase; FUZZ=long for a longer, random-seeded run.
fuzz: build stack-up
	$(STACK_ENV); scripts/fuzz.sh

# BENCH=intake runs only the named bench modules; see bench/intake.ts for its BENCH_* knobs.
# BENCH_QUICK=1 runs them at tiny sizes (as bench-quick does).
bench: deps stack-up
	npx tsc -p tsconfig.bench.json
	$(STACK_ENV); node dist/bench/run.js $(if $(filter-out 0,$(BENCH_QUICK)),--quick) $(BENCH)

# Base and head back to back on this machine: BENCH_BASE=<commit> (default in the script), BENCH=<modules>.
bench-compare: deps stack-up
	$(STACK_ENV); scripts/bench-compare.sh $(BENCH)

# The bench harness's smoke test: every module at tiny sizes, fails when one returns no figures.
# Results go to bench/results/quick/ (git-ignored), apart from measured runs'.
bench-quick: deps stack-up
	npx tsc -p tsconfig.bench.json
	$(STACK_ENV); node dist/bench/run.js --quick $(BENCH)

# Checks docker/compose.yaml without a Docker engine: Debian's docker-compose parses and resolves it.
compose-config:
	@command -v docker-compose >/dev/null || { echo "needs docker-compose: apt-get install -y docker-compose" >&2; exit 1; }
	docker-compose -f docker/compose.yaml config -q
