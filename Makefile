# Two commands for a fresh clone: `make demo` and `make test`.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv test test-fast demo bench clean

venv: $(STAMP)

$(STAMP): requirements.txt pyproject.toml setup.py emulator/ops/_native.c
	$(PY) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.txt
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow"

demo: $(STAMP)
	$(BIN)/luigi --module tasks CheckModel --name mobilenet_v1_0.5_160 --source synthetic --log-level INFO
	$(BIN)/python -m steps.summary mobilenet_v1_0.5_160

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) artifacts/*/
