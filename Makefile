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

.PHONY: demo test install model chromium serve ingest lint bench clean help

help:
	@echo "make demo   — installe, prépare le modèle, indexe corpus/ et sert http://$(HOST):$(PORT)"
	@echo "make test   — installe puis lance toute la suite de tests"
	@echo "make lint   — ruff sur le code"
	@echo "make bench  — benchmarks de débit et de latence (evals/)"

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

# Debian's Chromium for the browser tests (Playwright drives it; no browser download).
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
		$(SUDO) apt-get update && $(SUDO) apt-get install -y --no-install-recommends chromium; \
	fi

ingest: model
	$(VENV)/bin/seve ingest corpus

serve: model
	$(VENV)/bin/seve serve --host $(HOST) --port $(PORT)

demo: ingest
	$(VENV)/bin/seve serve --host $(HOST) --port $(PORT)

test: model chromium
	$(PY) -m pytest

lint: install
	$(VENV)/bin/ruff check ingest index assistant ui evals tests

bench: model
	$(PY) -m evals.bench_ingest
	$(PY) -m evals.bench_latency
	$(PY) -m evals.bench_search

clean:
	rm -rf .seve $(VENV)
