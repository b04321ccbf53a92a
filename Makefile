# santong — make help lists the targets (built from the "## " comments).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BUF := .buf/node_modules/.bin/buf
EXTRAS := dev,modbus,opcua,mqtt,load
# One pytest invocation for `make test` and `make test-stress` (same selection, same timeouts). Whole certification
# runs — the self-check matrix (tests/conformance/test_selfcheck*.py) and the demo end to end (marker `selfcheck`) —
# are their own tier: `make selfcheck` (.ci/run runs both).
SELFCHECK_TESTS := tests/conformance/test_selfcheck*.py
PYTEST_ARGS := -q -ra --durations=10 --ignore-glob='$(SELFCHECK_TESTS)' -m 'not selfcheck'
# `make mutation` (mutmut; not part of `make test`): the verdict, evidence, root-cause and report code, and the fast
# unit tests of those modules (no whole certification). scripts/mutation.py runs mutmut in a fresh temporary folder
# (mutants/ never lands in the source tree) and prints total/killed/survived with every survivor's diff.
MUTATE := conformance/_results.py conformance/_outcomes.py conformance/_evidence.py conformance/_verdicts.py \
	conformance/_report.py
MUTATION_TESTS := tests/conformance/test_verdict_rules.py tests/conformance/test_verdict_details.py \
	tests/conformance/test_evidence.py tests/conformance/test_report.py tests/conformance/test_report_writing.py \
	tests/conformance/test_report_failures.py tests/conformance/test_plugin.py tests/conformance/test_signing.py
# Survivors accounted for (equivalent or unreachable mutants, one line each): any other survivor fails the target.
MUTATION_ACCEPTED := scripts/mutation_survivors.txt
MUTATION_STAMP := $(VENV)/.mutation-installed
# e.g. MUTATION_ARGS='--out /tmp/mutation.txt --keep'
MUTATION_ARGS ?=

.DEFAULT_GOAL := help
.PHONY: help install generate checkgenerate lint typecheck test test-fast test-stress selfcheck mutation bench demo buf-lint buf-breaking clean

help: ## Show this help
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[$(EXTRAS)]'
	@touch $(STAMP)

install: $(STAMP) ## Create .venv (if missing) and install santong with every extra

$(BUF):
	@mkdir -p .buf
	cd .buf && npm install --silent --no-audit --no-fund --prefix . @bufbuild/buf@1.75.0 >/dev/null

generate: $(STAMP) ## Regenerate protobuf code, JSON Schemas and SPEC.md
	$(PY) scripts/generate.py

checkgenerate: $(STAMP) ## Fail if any generated file is stale
	$(PY) scripts/generate.py --check

buf-lint: $(BUF) ## buf lint the .proto files
	$(BUF) lint

buf-breaking: $(BUF) $(STAMP) ## buf breaking + JSON Schema breaking check against the frozen baseline (protocols/baseline)
	$(PY) scripts/schema_breaking.py --buf $(BUF)

lint: $(STAMP) ## ruff
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(STAMP) ## mypy (generated code excluded)
	$(VENV)/bin/mypy santong protocols adapters mock_platform conformance

test: $(STAMP) checkgenerate buf-lint buf-breaking lint typecheck ## Every gate and every test but the self-check (≈10 min)
	$(PY) -m pytest $(PYTEST_ARGS)

selfcheck: $(STAMP) ## Whole certification runs: the self-check matrix and the demo end to end (marker selfcheck)
	$(PY) -m pytest -q -ra --durations=10 -m selfcheck tests

$(MUTATION_STAMP): $(STAMP)
	$(PY) -m pip install -q -e '.[$(EXTRAS),mutation]'
	@touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP) ## Mutation testing (mutmut) of the verdict/evidence/root-cause/report code (≈10 min, 2 cores)
	$(PY) scripts/mutation.py --paths $(MUTATE) --tests $(MUTATION_TESTS) --accepted $(MUTATION_ACCEPTED) $(MUTATION_ARGS)

test-stress: $(STAMP) ## The tests of `make test` while stress-ng oversubscribes every core (2 workers per core)
	bash scripts/stress-ng.sh run -- $(PY) -m pytest $(PYTEST_ARGS)

test-fast: $(STAMP) ## Tests only, no gates
	$(PY) -m pytest -q -x

bench: $(STAMP) ## Benchmarks → bench/results.json
	$(PY) -m bench

demo: $(STAMP) ## The main job on the embedded default
	$(VENV)/bin/santong demo

clean: ## Remove the venv and caches
	rm -rf $(VENV) .buf build dist *.egg-info
