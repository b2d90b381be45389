# The project's commands. `make up` and `make test` do all the set-up on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install system system-test system-check check format test test-fast suite up down status bench fuzz soak \
	catalog clean

# Virtual environment with the project, its server extra (Flask, the app servers, supervisord) and
# its test tools; quick when nothing changed. The base install (pip install hometax-decrypt) is the
# library and the CLI alone.
install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,test,dev,uwsgi,bench]'
	touch $(STAMP)

# Debian packages: the service's own (nginx, openssl), and the tests' (browsers, a load generator).
system:
	scripts/ensure-system.sh stack

system-test:
	scripts/ensure-system.sh test

system-check:
	scripts/ensure-system.sh check

# ESLint for the page, exactly as package-lock.json pins it (a project-local node_modules).
NPM_STAMP := node_modules/.installed
$(NPM_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The habits, in well under a minute: lint, formatting, types, the import contracts (README
# "Layout"), the page's JavaScript. Every step runs; the failed ones are listed at the end.
CHECKS = "$(VENV)/bin/ruff check ." \
         "$(VENV)/bin/ruff format --check ." \
         "$(VENV)/bin/mypy" \
         "$(VENV)/bin/lint-imports" \
         "node_modules/.bin/eslint web"
check: install system-check $(NPM_STAMP)
	@failed=""; for c in $(CHECKS); do echo "== $$c"; sh -c "$$c" || failed="$$failed  $$c\n"; done; \
	if [ -n "$$failed" ]; then printf "\nmake check failed:\n$$failed"; exit 1; fi

# The mechanical fixes (import order, pyupgrade, simplifications ruff can make) and the formatting.
format: install
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

# The README's test command (and CI's, .ci/run): the checks, then the whole suite.
test: check suite

# The whole suite: unit tests, the real nginx + app-server stack, the browsers.
suite: install system-test
	$(PY) -m pytest -q

# The unit tests alone: no stack, no browsers (a minute or two).
test-fast: install
	$(PY) -m pytest -q tests/unit

up: install system
	scripts/stack.sh up

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

bench: install system-test
	$(PY) bench/run_all.py

fuzz: install
	HOMETAX_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q --timeout=0 tests/unit/test_fuzz.py

soak: install system-test
	$(PY) bench/soak.py

# Regenerate the code catalog from the NTS XML definition workbook.
catalog: install
	$(PY) scripts/build_catalog.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
