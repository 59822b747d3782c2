# Two commands on a fresh machine: `make run` and `make test`. Both create .venv/ from pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The ONNX export of the model and its int8 quantisation live in $QA_CACHE_DIR (default ~/.cache/qa). Checking it hashes ~90 MB, so
# `make run` re-checks only after a new install or when no export is there (the app verifies it on load anyway).
QA_CACHE_DIR ?= $(HOME)/.cache/qa
ONNX_CHECKED := $(VENV)/.onnx-checked
# `python -m qa.onnx_runtime` would warn: importing the package `qa` already imports that module.
EXPORT := $(BIN)/python -c 'import sys; from qa.onnx_runtime import main; sys.exit(main())'

.PHONY: install install-cluster run test build eval bench clean FORCE

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)
	$(EXPORT)
	touch $(ONNX_CHECKED)

$(ONNX_CHECKED): $(STAMP) qa/onnx_runtime.py qa/quantize.py qa/int8_ranges.npz qa/config.py $(if $(wildcard $(QA_CACHE_DIR)/*.onnx),,FORCE)
	$(EXPORT)
	touch $@

# The optional cluster extra (Ray, pymilvus, Milvus Lite), pinned, on top of the default install.
CLUSTER_STAMP := $(VENV)/.cluster-installed
$(CLUSTER_STAMP): $(STAMP) requirements-cluster.txt
	$(BIN)/python -m pip install --quiet -r requirements-cluster.txt
	touch $@

install-cluster: install $(CLUSTER_STAMP)

run: $(ONNX_CHECKED)
	$(BIN)/python app.py $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

build: install
	$(BIN)/qa build

bench: install
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) .pytest_cache
