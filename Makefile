# The two commands: `make run` (embedded default) and `make test` (the whole suite).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test lint unit integration faults bench bench-scale services tools clean \
	openapi client e2e-compose

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check --upgrade pip
	$(BIN)/pip install -q --disable-pip-version-check -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/tessera up

services:
	@scripts/services.sh
	@scripts/slurm.sh
	@scripts/ssh-hosts.sh
	@scripts/registry.sh
	@scripts/base-image.sh
	@VENV_BIN=$(BIN) scripts/moto.sh

# Prometheus and docker-compose, which the metrics and deploy tests run for real; Chromium,
# which the dashboard's browser tests drive.
tools:
	@scripts/test-tools.sh

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: install services tools lint
	$(BIN)/pytest -q

unit: install
	$(BIN)/pytest -q tests/unit

integration: install services tools
	$(BIN)/pytest -q tests/integration

# The fault suite (also part of `make test`): prints faults_lost=, faults_duplicates=,
# fuzz_cases= and fuzz_5xx= at the end.
faults: install services
	$(BIN)/pytest -q tests/faults

bench: install services
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(BIN)/python bench/submit.py
	$(BIN)/python bench/build.py
	$(BIN)/python bench/app.py
	$(BIN)/python bench/slurm.py
	$(BIN)/python bench/kubernetes.py
	$(BIN)/python bench/ssh.py
	$(BIN)/python bench/ui.py
	$(BIN)/python bench/ec2.py
	$(BIN)/python bench/workflow.py

# 10,000 active runs over 10 testbeds (8 hollow Kubernetes clusters, the SLURM test cluster,
# an SSH host), and launch latency on the local, SLURM and Kubernetes testbeds (about 10
# minutes): bench/README.md.
bench-scale: install services
	$(BIN)/python bench/scale.py
	$(BIN)/python bench/launch.py

# docker-compose.yml started for real under podman with locally made images: deployments,
# scaling, an upgrade, backup and restore (scripts/e2e-compose.sh). Not part of `make test`
# (3 to 8 minutes warm, about 12 cold, on 2 cores): prints compose_runs=, compose_lost=,
# compose_double_placements=, compose_targets_up= and upgrade_rows_kept= at the end.
e2e-compose: install
	@scripts/e2e-compose.sh

# openapi.json is exported from the app; the client in clients/python is generated from it.
openapi: install
	$(BIN)/python -m services.api.openapi openapi.json

client: openapi
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/openapi-python-client generate --path openapi.json \
		--config clients/python-client.yaml --meta setup --output-path clients/python \
		--overwrite --fail-on-warning

clean:
	rm -rf $(VENV) .tessera .mypy_cache .pytest_cache .ruff_cache
