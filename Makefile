# Two commands matter: `make lab` (start JupyterLab on examples/) and `make test` (everything CI runs).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip

.PHONY: lab test install-test lint unit kernel browser bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

install: $(PY)
	$(PIP) install --quiet .

install-test: $(PY)
	$(PIP) install --quiet ".[test]"

lab: install
	cd examples && ../$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $(LAB_ARGS)

lint:
	$(VENV)/bin/ruff check persist_ext tests benchmarks examples
	$(VENV)/bin/ruff format --check persist_ext tests benchmarks examples

unit:
	cd tests && ../$(VENV)/bin/pytest unit $(PYTEST_ARGS)

kernel:
	cd tests && ../$(VENV)/bin/pytest kernel $(PYTEST_ARGS)

browser:
	cd tests && ../$(VENV)/bin/pytest browser $(PYTEST_ARGS)

test: install-test lint
	$(VENV)/bin/pytest -p no:cacheprovider tests $(PYTEST_ARGS)

bench: $(PY)
	$(PIP) install --quiet ".[bench]"
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) persist_ext/labextension persist_ext/interfaces/widgets/static js/node_modules js/lib artifacts
