# Everything runs from .venv, built with a working Python 3.12/3.13 (see tools/find_python.sh).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench viz clean venv

$(PY):
	@interpreter=$$(sh tools/find_python.sh) || exit 1; \
	echo "Creating $(VENV) with $$interpreter"; \
	"$$interpreter" -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(DEVSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP) $@

venv: $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/slsim hydra.run.dir=outputs/demo

test: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/python -m pytest

# Speed and memory against the targets of issue 7; writes docs/benchmarks.md (about 10 minutes).
bench: $(DEVSTAMP)
	$(PY) -m benchmarks.run

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
