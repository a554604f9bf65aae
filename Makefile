# topoexp — common tasks. `make help` lists them.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
SEEDS  ?= 249040430,621965744,771860110,775293950,700134501
JOBS   ?= 2
SHARED ?= ../shared
export TOPOEXP_DATA_DIR ?= $(abspath $(SHARED)/datasets)

.PHONY: help install run test test-full lint format bench reproduce-spheres report-spheres clean

help:  ## list targets
	@grep -E '^[a-z-]+:.*##' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(VENV)/.installed: pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e ".[dev]"
	touch $@

install: $(VENV)/.installed  ## create .venv with the pinned environment (constraints.txt)

run: install  ## the default job: SPHERES TopoAE (Table 1 setting), W&B offline without a key
	$(PY) -m topoexp

test: install  ## fast test suite (no slow tests)
	$(PY) -m pytest -m "not slow" -q

test-full: install  ## every test, slow and data-dependent ones included
	$(PY) -m pytest -q

lint: install  ## ruff lint and format check
	$(PY) -m ruff check topoexp tests benchmarks
	$(PY) -m ruff format --check topoexp tests benchmarks

format: install
	$(PY) -m ruff format topoexp tests benchmarks
	$(PY) -m ruff check --fix topoexp tests benchmarks

bench: install  ## benchmarks, each a ratio against a peer measured in the same run
	$(PY) benchmarks/bench_pairing.py --json results/bench/pairing.json
	$(PY) benchmarks/bench_evaluation.py --mnist-root $(TOPOEXP_DATA_DIR) --embedding pca --json results/bench/evaluation.json
	$(PY) benchmarks/bench_diagrams.py --json results/bench/diagrams.json

SPHERES_METHODS := pca isomap tsne umap ae topoae topopca

reproduce-spheres: install  ## SPHERES rows of TopoAE Table 1: 7 methods × 5 seeds, table + figure in results/spheres
	rm -rf multirun/spheres
	$(PY) -m topoexp -m \
	  "+experiment=$(shell echo $(addprefix spheres/,$(SPHERES_METHODS)) | tr ' ' ',')" \
	  seed=$(SEEDS) logger.mode=offline trainer.progress=false \
	  hydra/launcher=joblib hydra.launcher.n_jobs=$(JOBS) \
	  hydra.sweep.dir=multirun/spheres
	$(MAKE) report-spheres

report-spheres: install  ## rebuild results/spheres from multirun/spheres
	$(PY) -m topoexp.report.table1 --dataset spheres --runs multirun/spheres --out results/spheres \
	  --reference $(SHARED)/reference/topoae_table1.csv

clean:
	rm -rf outputs multirun .pytest_cache .ruff_cache
