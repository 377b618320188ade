# Two commands for a fresh machine: `make run` starts the app, `make test` runs every test
# (`make quick`: the tests that are neither slow nor in a browser, for a round while editing).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
export NUMBA_CACHE_DIR ?= $(CURDIR)/.cache/numba

# pytest-xdist: two test processes, each file's tests in one of them (module-scoped apps and browser
# pages are shared within a file, and some files' tests build on each other). PYTEST_WORKERS=0: one process.
# Files start longest first (tests/conftest.py, FILE_SECONDS), so xdist's own reorder by test count is off.
PYTEST_WORKERS ?= 2
PYTEST_XDIST := -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder

.PHONY: install run test quick lint typecheck browser services bench clean

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

# PostgreSQL 15's server and HAProxy for the replica tests of issue 22: tests/postgres.py starts a throwaway
# server and tests/replica_cluster.py an HAProxy, each in a temp folder (no system service is used). They
# are installed like Chromium: where we are root and they are missing; on CI a failure fails the run.
# The server counts as present when pg_config --bindir or Debian's /usr/lib/postgresql/*/bin has postgres.
services:
	@missing=""; pg="$$(pg_config --bindir 2>/dev/null)"; \
	{ [ -x "$$pg/postgres" ] || ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; } || missing="postgresql-15"; \
	{ command -v haproxy >/dev/null 2>&1 || [ -x /usr/sbin/haproxy ]; } || missing="$$missing haproxy"; \
	[ -z "$$missing" ] || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null) \
	      || { echo "could not install $$missing"; [ -z "$$CI" ] || exit 1; echo "their tests will skip"; }; \
	  else echo "$$missing not found and not root: their tests will skip"; [ -z "$$CI" ] || exit 1; fi; }

lint: $(STAMP)
	$(PY) -m ruff check .

# mypy on the core package, settings in pyproject.toml ([tool.mypy]); its cache is .mypy_cache.
typecheck: $(STAMP)
	$(PY) -m mypy

# mypy runs beside pytest: the two test processes leave about half a core idle on average (browser and
# server waits), which a cold mypy (~40 s of CPU) fills; either failing fails the target.
BESIDE_MYPY = $(PY) -m mypy & types=$$!; $(PY) -m pytest $(PYTEST_XDIST)

test: $(STAMP) browser services lint
	$(BESIDE_MYPY) $(PYTEST_ARGS); tests=$$?; wait $$types; typed=$$?; [ $$tests -eq 0 ] && [ $$typed -eq 0 ]

quick: $(STAMP) services lint
	$(BESIDE_MYPY) -m "not slow and not browser" $(PYTEST_ARGS); tests=$$?; wait $$types; typed=$$?; [ $$tests -eq 0 ] && [ $$typed -eq 0 ]

bench: $(STAMP)
	$(PY) benchmarks/encode.py
	$(PY) benchmarks/projection.py

clean:
	rm -rf $(VENV) .cache .pytest_cache .ruff_cache .mypy_cache
