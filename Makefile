# Two commands for a fresh machine: `make run` starts the app, `make test` runs every test
# (`make quick`: the tests that are neither slow nor in a browser, for a round while editing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

# pytest-xdist: two test processes, each file's tests in one of them (module-scoped apps and browser
# pages are shared within a file, and some files' tests build on each other). PYTEST_WORKERS=0: one process.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadfile

.PHONY: install run test quick lint typecheck browser bench clean

install: $(STAMP)

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	touch $(STAMP)

run: $(STAMP)
	$(PY) app.py $(ARGS)

# Debian's Chromium for the Playwright tests; installed where we are root (CI is), skipped otherwise.
# On CI (CI=true) a Chromium that cannot be installed fails the run: the browser tests must not vanish.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	      || { echo "could not install chromium"; [ -z "$$CI" ] || exit 1; echo "browser tests will skip"; }; \
	  else echo "chromium not found and not root: browser tests will skip"; [ -z "$$CI" ] || exit 1; fi; }

lint: $(STAMP)
	$(PY) -m ruff check .

# mypy on the core package, settings in pyproject.toml ([tool.mypy]); its cache is .mypy_cache.
typecheck: $(STAMP)
	$(PY) -m mypy

test: $(STAMP) browser lint typecheck
	$(PY) -m pytest $(PYTEST_XDIST) $(PYTEST_ARGS)

quick: $(STAMP) lint typecheck
	$(PY) -m pytest $(PYTEST_XDIST) -m "not slow and not browser" $(PYTEST_ARGS)

bench: $(STAMP)
	$(PY) benchmarks/encode.py
	$(PY) benchmarks/projection.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .mypy_cache
