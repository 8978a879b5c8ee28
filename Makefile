# Two commands matter: `make lab` (JupyterLab on examples/ with persist_ext) and `make test`
# (everything CI runs). Both create .venv on first use and install persist_ext into it with
# its front end built from js/ (Node.js 20+ needed).
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
PYTEST_ARGS ?=
# JupyterLab refuses to run as root unless told to (containers, CI machines).
ROOT_FLAG := $(if $(filter 0,$(shell id -u)),--allow-root,)

.PHONY: lab test install install-test check-install lint lint-js test-js unit kernel browser stress bench clean prereqs

$(PY):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 10))' || \
	  { echo "persist_ext needs Python 3.10+; run e.g. PYTHON=python3.11 make ..."; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

prereqs:
	@command -v node >/dev/null || { echo "Node.js 20+ is needed to build the JupyterLab \
	extension: install it from https://nodejs.org (Debian's nodejs package is too old)."; exit 1; }

# The bundle is removed first so that the installed front end is always built from js/src
# (hatch-jupyter-builder skips the build when a bundle is already there).
install: $(PY) prereqs
	rm -rf persist_ext/labextension persist_ext/interfaces/widgets/static
	$(PIP) install --quiet ".[lab]"

install-test: $(PY) prereqs
	rm -rf persist_ext/labextension persist_ext/interfaces/widgets/static
	$(PIP) install --quiet ".[test]"

# Both Jupyter integrations must be installed, enabled and importable ("OK").
check-install:
	$(VENV)/bin/jupyter labextension list 2>&1 | grep -E "persist-ext v[0-9.]+.*enabled.*OK"
	$(VENV)/bin/jupyter server extension list 2>&1 | grep -E "persist_ext [0-9.]+.*OK"

lab: install
	cd examples && exec ../$(VENV)/bin/jupyter lab --ServerApp.root_dir=. $(ROOT_FLAG) $(LAB_ARGS)

lint: lint-js
	$(VENV)/bin/ruff check persist_ext tests benchmarks examples
	$(VENV)/bin/ruff format --check persist_ext tests benchmarks examples
	$(VENV)/bin/mypy persist_ext

# The panel's TypeScript: prettier + eslint, and jest unit tests (js/test).
lint-js:
	cd js && ../$(VENV)/bin/jlpm install --immutable > /dev/null && ../$(VENV)/bin/jlpm lint
test-js:
	cd js && ../$(VENV)/bin/jlpm install --immutable > /dev/null && ../$(VENV)/bin/jlpm test --silent

unit:
	$(VENV)/bin/pytest tests/unit $(PYTEST_ARGS)

kernel:
	$(VENV)/bin/pytest tests/kernel $(PYTEST_ARGS)

browser:
	$(VENV)/bin/pytest tests/browser $(PYTEST_ARGS)

stress:
	$(VENV)/bin/pytest tests/stress $(PYTEST_ARGS)

# Lint problems do not hide test results: both run, and the first failure's status is returned.
# Coverage starts before anything imports persist_ext (`coverage run`) and follows every Python
# subprocess (kernels, process pools, kill-test writers: `patch = subprocess` in pyproject.toml);
# the docstring examples of persist_ext run as tests too.
test: install-test check-install
	@lint=0; $(MAKE) --no-print-directory lint || lint=$$?; \
	rm -f .coverage .coverage.*; \
	COVERAGE_FILE=$(CURDIR)/.coverage $(VENV)/bin/coverage run -m pytest -p no:cacheprovider \
	  --doctest-modules --durations=15 tests persist_ext $(PYTEST_ARGS); tests=$$?; \
	cover=0; $(VENV)/bin/coverage combine -q && $(VENV)/bin/coverage report || cover=$$?; \
	$(MAKE) --no-print-directory test-js || tests=$$((tests ? tests : 1)); \
	if [ $$lint -ne 0 ]; then echo "make test: lint FAILED (see above)"; fi; \
	if [ $$cover -ne 0 ]; then echo "make test: coverage below the gate (see above)"; fi; \
	if [ $$tests -ne 0 ]; then exit $$tests; fi; if [ $$lint -ne 0 ]; then exit $$lint; fi; \
	exit $$cover

bench: $(PY)
	$(PIP) install --quiet ".[bench]"
	$(PY) -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf $(VENV) persist_ext/labextension persist_ext/interfaces/widgets/static js/node_modules js/lib artifacts
