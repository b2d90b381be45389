# The project's commands. `make up` and `make test` do all the set-up on a fresh Debian machine.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install system system-test test up down status bench fuzz soak catalog clean

# Virtual environment with the project, its server extra (Flask, the app servers, supervisord) and
# its test tools; quick when nothing changed. The base install (pip install hometax-decrypt) is the
# library and the CLI alone.
install: $(STAMP)
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[server,test,uwsgi,bench]'
	touch $(STAMP)

# Debian packages: the service's own (nginx, openssl), and the tests' (browsers, a load generator).
system:
	scripts/ensure-system.sh stack

system-test:
	scripts/ensure-system.sh test

test: install system-test
	$(PY) -m pytest -q

up: install system
	scripts/stack.sh up

down:
	scripts/stack.sh down

status:
	scripts/stack.sh status

bench: install system-test
	$(PY) bench/run_all.py

fuzz: install
	HOMETAX_FUZZ_EXAMPLES=20000 $(PY) -m pytest -q --timeout=0 tests/test_fuzz.py

soak: install system-test
	$(PY) bench/soak.py

# Regenerate the code catalog from the NTS XML definition workbook.
catalog: install
	$(PY) scripts/build_catalog.py

clean:
	rm -rf $(VENV) build dist src/*.egg-info .pytest_cache
