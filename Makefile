# kcost — run `make help` for the targets. Every target installs what it needs first.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := $(CURDIR)/.venv
PY := $(VENV)/bin/python
UV_VERSION := 0.9.11
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
export PATH := $(VENV)/bin:$(PATH)
# `python -m …` would put the repository root first on sys.path, where the top-level
# operator/ folder shadows the standard library's `operator` (see README, Layout).
export PYTHONSAFEPATH := 1
# Debian packages the local stack needs: Prometheus (with promtool), Alertmanager, PostgreSQL,
# VictoriaMetrics (with vmctl), the second metrics backend the e2e tests check, and chromium
# with its driver for the dashboard's browser test.
APT_PACKAGES := prometheus prometheus-alertmanager postgresql victoria-metrics chromium chromium-driver
# The real node of `dev-cluster up --real-node` (make chart-test) and its registry-free image.
APT_PACKAGES += containerd runc containernetworking-plugins iptables conntrack mmdebstrap umoci binutils
PYTEST_FLAGS ?=

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*##"; printf "Usage: make \033[36m<target>\033[0m\n"} \
	  /^[a-zA-Z_-]+:.*?##/ { printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2 } \
	  /^##@/ { printf "\n\033[1m%s\033[0m\n", substr($$0, 5) }' $(MAKEFILE_LIST)

##@ Setup

.PHONY: install
install: system-deps venv binaries ## Install everything: Debian packages, Python environment, Kubernetes binaries.

.PHONY: system-deps
system-deps: ## Install Prometheus, Alertmanager, PostgreSQL, VictoriaMetrics and chromium from Debian when missing; check Go.
	@missing=""; \
	command -v prometheus >/dev/null && command -v promtool >/dev/null || missing="$$missing prometheus"; \
	command -v prometheus-alertmanager >/dev/null || missing="$$missing prometheus-alertmanager"; \
	ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || missing="$$missing postgresql"; \
	command -v victoria-metrics >/dev/null && command -v vmctl >/dev/null || missing="$$missing victoria-metrics"; \
	command -v chromium >/dev/null || missing="$$missing chromium"; \
	command -v chromedriver >/dev/null || missing="$$missing chromium-driver"; \
	for tool in containerd:containerd runc:runc iptables:iptables conntrack:conntrack mmdebstrap:mmdebstrap umoci:umoci strip:binutils; do \
	  command -v $${tool%%:*} >/dev/null || missing="$$missing $${tool##*:}"; done; \
	[ -x /usr/lib/cni/bridge ] || missing="$$missing containernetworking-plugins"; \
	if [ -n "$$missing" ]; then \
	  echo "==> installing Debian packages:$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing >/dev/null; \
	else echo "==> Debian packages present: $(APT_PACKAGES)"; fi
	@command -v go >/dev/null || { echo "error: the Go toolchain (go) is needed to build the Kubernetes binaries"; exit 1; }
	@echo "==> $$(go version)"

.PHONY: venv
venv: $(VENV)/.installed ## Create the Python environment (.venv) from requirements.lock.

$(VENV)/.installed: requirements.lock pyproject.toml
	@echo "==> Python environment in $(VENV)"
	@[ -x $(PY) ] || python3 -m venv $(VENV)
	@$(PY) -m pip --version >/dev/null 2>&1 || $(PY) -m ensurepip >/dev/null
	@$(PY) -m pip install -q --disable-pip-version-check uv==$(UV_VERSION)
	@VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv pip install -q -r requirements.lock
	@VIRTUAL_ENV=$(VENV) $(VENV)/bin/uv pip install -q --no-deps -e .
	@touch $@

.PHONY: lock
lock: venv ## Re-resolve requirements.lock from pyproject.toml (after changing a pin).
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --extra prophet -p 3.11 --quiet --no-header -o requirements.lock

.PHONY: binaries
binaries: venv system-deps ## Build etcd, kube-apiserver, controller-manager, scheduler, kubectl, kwok, helm (cached in ~/.cache/kcost).
	@$(PY) -c "from kcost.devcluster import binaries; binaries.ensure_built()"

##@ Development

.PHONY: lint
lint: venv ## ruff, mypy --strict and the import-linter layer contracts.
	ruff check kcost operator analyzers webhooks tests e2e bench
	ruff format --check kcost operator analyzers webhooks tests e2e bench
	mypy -p kcost -p tests -p e2e -p bench
	lint-imports

.PHONY: manifests
manifests: venv ## Regenerate crds/ and helm/kcost/crds/ from the API models.
	kcost manifests

.PHONY: fmt
fmt: venv ## Format and autofix with ruff.
	ruff format kcost operator analyzers webhooks tests e2e bench
	ruff check --fix kcost operator analyzers webhooks tests e2e bench

.PHONY: test
test: install ## Run every test: unit, then e2e against the real local stack.
	pytest $(PYTEST_FLAGS) tests e2e

.PHONY: chart-test
chart-test: install ## The Helm chart: rendered objects, RBAC, docs; helm lint, a server-side dry run, install and uninstall.
	pytest $(PYTEST_FLAGS) tests/chart e2e/test_chart.py e2e/test_chart_rbac.py e2e/test_chart_node.py

.PHONY: image
image: install ## Build kcost's OCI image without Docker or a registry (mmdebstrap, uv, umoci; layers cached in ~/.cache/kcost/images).
	kcost dev-cluster image

.PHONY: chart-docs
chart-docs: venv ## Regenerate helm/kcost/README.md and values.schema.json's descriptions from values.yaml.
	python -m kcost.cli.chart_docs

.PHONY: test-unit
test-unit: venv ## Run the fast tests only (no cluster).
	pytest $(PYTEST_FLAGS) tests

.PHONY: test-e2e
test-e2e: install ## Run the tests against the real control plane, Prometheus and PostgreSQL.
	pytest $(PYTEST_FLAGS) e2e

##@ Local stack

.PHONY: dev-cluster
dev-cluster: install ## Start the local control plane and Prometheus (idempotent).
	kcost dev-cluster up
	@echo 'use it with: eval "$$(.venv/bin/kcost dev-cluster env)"'

.PHONY: dev-cluster-down
dev-cluster-down: venv ## Stop the local stack.
	kcost dev-cluster down

.PHONY: demo
demo: install ## The local stack with a demo cluster (14 days of history), kcost running on it, and its findings.
	kcost demo

.PHONY: demo-down
demo-down: venv ## Stop the demo stack.
	kcost dev-cluster down

##@ Benchmarks

.PHONY: bench
bench: install ## Run the benchmarks under bench/ and print their tables.
	python bench/devcluster_start.py
	python bench/quality.py --traces $(CURDIR)/../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
	python bench/churn.py --traces $(CURDIR)/../shared/data/traces/bitbrains-rnd-2013-07-vm001-150.csv.gz
	python bench/kubectl_cost.py
	python bench/analysis.py
	python bench/sizing.py --digest
	python bench/admission.py
	python bench/metrics.py
	python bench/decode.py
	python bench/operator_events.py
	python bench/rollouts.py
