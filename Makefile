# dl101: every target installs what it needs first (venv keyed on pyproject.toml).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# Pinned versions for the reference CPU machine; `make install CONSTRAINTS=` uses your own torch.
CONSTRAINTS ?= constraints.txt
ARGS ?=
PORT ?= 6006
# Extras installed with dl101: dev tools, the docs site (make docs), MLflow (logger=mlflow),
# notebooks (make notebooks), Weights & Biases (logger=wandb). JupyterLab (make lab) on demand.
EXTRAS ?= dev,docs,mlflow,notebooks,wandb

.DEFAULT_GOAL := help
.PHONY: help install data train eval test test-slow test-budget test-full lint format tensorboard bench bench-data gpu-check gpu-bundle mutation screenshots \
	course clean clean-logs sweep sweep-regularization sweep-stability sweep-cnn report \
	predict sample mlflow notebooks docs docs-serve lab slurm-up slurm-down

help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  \033[36m%-22s\033[0m %s\n", $$1, $$2}'

$(STAMP): pyproject.toml $(CONSTRAINTS)
	@test -x $(BIN)/python || { rm -rf $(VENV); $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[$(EXTRAS)]'
	@touch $@

install: $(STAMP) ## create .venv and install dl101 with dev tools (skipped when up to date)

data: $(STAMP) ## obtain MNIST into data/MNIST/raw, verify MD5s, re-fetch any bad file
	$(BIN)/python -m dl101.data --repair

train: $(STAMP) ## train (default: softmax regression on MNIST); ARGS="model.optimizer.lr=0.01"
	$(BIN)/python -m dl101.train $(ARGS)

eval: $(STAMP) ## test a checkpoint on the MNIST test set: CKPT=best (default), last or a file
	$(BIN)/python -m dl101.evaluate ckpt_path=$(or $(CKPT),best) $(ARGS)

predict: $(STAMP) ## classify pictures of digits: INPUT=digit.png or a folder (default docs/digits)
	$(BIN)/python -m dl101.predict ckpt_path=$(or $(CKPT),last) input=$(or $(INPUT),docs/digits) $(ARGS)

sample: $(STAMP) ## continue a prompt with the newest char_lm run: PROMPT="It is raining"
	$(BIN)/python -m dl101.sample ckpt_path=$(or $(CKPT),last) prompt="$(or $(PROMPT),It is raining)" $(ARGS)

test: $(STAMP) data lint ## lint and run the fast test suite on every core (what CI runs)
	$(BIN)/python -m pytest -n auto

test-slow: $(STAMP) data ## the long tests: course FAST, notebooks, DDP, SLURM, the docs site and TensorBoard in a browser
	$(BIN)/python -m pytest -m "slow and not budget" --durations=12

test-budget: $(STAMP) data ## every accuracy and perplexity the guides quote, trained at its full budget (~20 min)
	$(BIN)/python -m pytest -m budget --durations=12

test-full: $(STAMP) data lint ## lint and every test, the slow and budget ones included
	$(BIN)/python -m pytest -m "slow or budget or not slow"

lint: $(STAMP) ## ruff check, and shellcheck on the shell scripts
	$(BIN)/ruff check .
	$(BIN)/shellcheck scripts/*.sh .ci/run

format: $(STAMP) ## ruff format and fix imports
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

tensorboard: $(STAMP) ## serve logs/ on http://127.0.0.1:6006 (PORT=... to change)
	$(BIN)/tensorboard --logdir logs --host 127.0.0.1 --port $(PORT)

mlflow: $(STAMP) ## serve MLflow's UI for the logger=mlflow runs (logs/mlruns) on http://127.0.0.1:5000
	MLFLOW_ALLOW_FILE_STORE=true $(BIN)/mlflow ui --backend-store-uri logs/mlruns --host 127.0.0.1 --port $(or $(MLFLOW_PORT),5000)

notebooks: $(STAMP) data ## run every notebook in notebooks/ headless, small budgets (outputs in logs/notebooks)
	$(BIN)/python scripts/run_notebooks.py $(ARGS)

lab: $(STAMP) ## JupyterLab on notebooks/ (installs the lab extra into .venv the first time)
	@test -x $(BIN)/jupyter-lab || $(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) -e '.[lab]'
	$(BIN)/jupyter-lab --notebook-dir notebooks $(ARGS)

docs: $(STAMP) data ## run the notebooks, export them to docs/course/*.md + PNGs, build the site into site/
	@start=$$(date +%s); \
	$(BIN)/python scripts/run_notebooks.py --export docs/course $(ARGS) && \
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --quiet && \
	echo "make docs: $$(( $$(date +%s) - start )) s; the site is in site/ (make docs-serve)"

docs-serve: $(STAMP) ## serve the site on http://127.0.0.1:8000 from docs/ as it is (no notebook run)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs serve --dev-addr 127.0.0.1:$(or $(DOCS_PORT),8000)

mutation: $(STAMP) data ## mutation testing of what decides a user's conclusions (pyproject's [tool.mutmut]; ~11 min, not in CI)
	$(BIN)/python -m pip install --quiet $(if $(CONSTRAINTS),-c $(CONSTRAINTS)) mutmut
	rm -rf mutants
	$(BIN)/mutmut run --max-children $$(nproc) > /dev/null
	@$(BIN)/mutmut results --all true | awk '{n[$$NF]++} END {k = n["killed"]; s = n["survived"]; \
		printf "mutation score: %d killed of %d mutants tested (%.1f %%), %d survived, %d not reached by the selected tests\n", \
		k, k + s, 100 * k / (k + s), s, n["tests"]}'
	@$(BIN)/mutmut results

bench: $(STAMP) data ## per-step throughput, four ways per model; whole commands as typed; stacked sweeps
	$(BIN)/python -m benchmarks.bench --commands --stacked $(ARGS)

course: $(STAMP) data ## reproduce the course: all experiments, then reports/course.md (FAST=1: reduced budgets)
	$(BIN)/python -m dl101.course $(if $(FAST),budget=fast) $(ARGS)

screenshots: $(STAMP) data ## the regularization sweep in TensorBoard, as PNGs in docs/ (headless chromium; ARGS=SWEEP_DIR to reuse one)
	$(BIN)/python -m scripts.tensorboard_screenshots $(ARGS)

slurm-up: ## a one-node SLURM on this machine, as root (installs it where missing); then export SLURM_CONF=/tmp/dl101-slurm/slurm.conf
	bash scripts/slurm_local.sh start

slurm-down: ## stop it (its jobs cancelled)
	bash scripts/slurm_local.sh stop

gpu-check: ## on a CUDA machine: GPU tests, one-epoch runs, bench rows, bf16 (< 5 min; skips without a GPU)
	bash scripts/gpu_check.sh

gpu-bundle: $(STAMP) data ## for an offline GPU node: the wheels it lacks and MNIST, in .gpu/ (about 10 MiB)
	$(BIN)/python scripts/gpu_bundle.py

bench-data: $(STAMP) data ## time one MNIST epoch: in-memory batches vs ToTensor DataLoader
	$(BIN)/python -m benchmarks.data_loading $(ARGS)

sweep-regularization: $(STAMP) data ## course III: overfit baseline vs weight decay, dropout, augmentation (5 seeds each), table
	$(BIN)/python -m dl101.train sweep=regularization $(ARGS)

sweep-stability: $(STAMP) data ## course III: sigmoid vs ReLU x init schemes on a deep MLP, gradient-flow table
	$(BIN)/python -m dl101.train sweep=stability $(ARGS)

sweep-cnn: $(STAMP) data ## course IV: same vs valid padding, stride 2 vs pooling, max vs avg pooling; table
	$(BIN)/python -m dl101.train sweep=cnn $(ARGS)

sweep: $(STAMP) data ## any sweep preset by name: make sweep NAME=capacity|regularization|stability|cnn [ARGS=...]
	@test -n "$(NAME)" || { echo "Name the preset: make sweep NAME=$$(ls conf/sweep | sed 's/.yaml//' | paste -sd'|')"; exit 2; }
	$(BIN)/python -m dl101.train sweep=$(NAME) $(ARGS)

report: $(STAMP) ## summarize a run or sweep folder from its TensorBoard logs; RUN=logs/train/multiruns/...
	@test -n "$(RUN)" || { echo "Name the folder: make report RUN=logs/train/multiruns/<time>"; exit 2; }
	$(BIN)/python -m dl101.report $(RUN) $(ARGS)

clean-logs: ## delete logs/
	rm -rf logs

clean: ## delete .venv, caches (keeps data/ and logs/)
	rm -rf $(VENV) .pytest_cache .ruff_cache src/*.egg-info
