# The two commands of the README contract: `make demo` and `make test`.
# Each creates .venv if missing and installs the project with what that target needs.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip

.PHONY: demo test lint bench clean

$(VENV)/bin/activate:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip

$(VENV)/.demo-installed: $(VENV)/bin/activate pyproject.toml
	$(PIP) install --quiet -e ".[plot,ml]"
	touch $@

$(VENV)/.test-installed: $(VENV)/bin/activate pyproject.toml
	$(PIP) install --quiet -e ".[test,plot,ml,dev]"
	touch $@

demo: $(VENV)/.demo-installed
	$(PY) examples/demo.py

test: $(VENV)/.test-installed
	$(PY) -m ruff check cmpc private_mdi tests benchmarks examples
	$(PY) -m mypy cmpc private_mdi
	$(PY) -m pytest

bench: $(VENV)/.test-installed
	$(PIP) install --quiet -e ".[bench]"
	$(PY) benchmarks/field_matmul.py
	$(PY) benchmarks/rand.py
	$(PY) benchmarks/protocol.py
	$(PY) benchmarks/certificates.py speed
	$(PY) benchmarks/vs_mpyc.py
	$(PY) benchmarks/gc.py
	$(PY) benchmarks/paillier.py
	$(PY) benchmarks/private_mdi.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .hypothesis
