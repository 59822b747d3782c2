# Two commands on a fresh machine: `make run` and `make test`. Both create .venv/ from pinned requirements.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install run test build eval bench clean

$(STAMP): requirements.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python -m pip install --quiet --no-deps --no-build-isolation -e .
	touch $(STAMP)

install: $(STAMP)
	$(BIN)/python -c "from qa.onnx_runtime import main; raise SystemExit(main())"  # the ONNX export, once

run: install
	$(BIN)/python app.py $(ARGS)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

build: install
	$(BIN)/qa build

bench: install
	$(BIN)/python bench/build.py

clean:
	rm -rf $(VENV) .pytest_cache
