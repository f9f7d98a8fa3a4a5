# Everything runs from .venv, built with a working Python 3.12/3.13 (see tools/find_python.sh).
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
DEVSTAMP := $(VENV)/.installed-dev

.PHONY: demo test lint bench bench-sweep viz clean venv baseline

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

# The demo needs the sweep launchers and the analysis tools.
ANALYSISSTAMP := $(VENV)/.installed-analysis
$(ANALYSISSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[sweeps,analysis]'
	@touch $(STAMP) $@

# The demo: a probabilistic sensitivity analysis on the calibrated default (default_ics). The
# baseline, each lever on its own (configs/intervention/*.yaml) and the recommended package, each
# on the same DEMO_DRAWS draws of every uncertain quantity (simulation/posterior.py), with
# DEMO_SEEDS_PER_DRAW seeds a draw, on local worker processes (joblib); then the comparison
# report. 100 draws keep the Monte Carlo SE of P(best) at or under 0.05 (docs/analysis.md).
# Starts afresh, so the report always reflects the current model.
comma := ,
space := $(subst ,, )
DEMO_LEVERS := $(sort $(basename $(notdir $(wildcard configs/intervention/*.yaml))))
DEMO_SCENARIOS := $(subst $(space),$(comma),baseline $(DEMO_LEVERS) recommended_package)
DEMO_DRAWS ?= 100
DEMO_SEEDS_PER_DRAW ?= 1
DEMO_DIR ?= outputs/demo

demo: $(ANALYSISSTAMP)
	rm -rf $(DEMO_DIR)
	$(VENV)/bin/slsim -m scenario=$(DEMO_SCENARIOS) 'draw=range(0,$(DEMO_DRAWS))' \
		seeds_per_draw=$(DEMO_SEEDS_PER_DRAW) ics=default_ics hydra/launcher=joblib \
		hydra.sweep.dir=$(DEMO_DIR)
	$(VENV)/bin/slsim-compare $(DEMO_DIR)

test: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/python -m pytest

# Rewrite the exact regression baseline, tests/baseline/*.json (issue 10). Only on purpose, in
# the commit that changes results, saying so in its message.
baseline: $(STAMP)
	$(PY) -m simulation.baseline --regenerate

# Speed and memory against the targets (issues 4, 7 and 14); writes docs/benchmarks.md. About a
# quarter of an hour: `$(PY) -m benchmarks.run --only NAME` measures one section again.
bench: $(DEVSTAMP)
	$(PY) -m benchmarks.run

# The sweep benchmark, too long for `make bench` (1,000-run sweeps of small_ics and default_ics
# on 2 cores, then slsim-aggregate): updates its section of docs/benchmarks.md, keeps the rest.
bench-sweep: $(DEVSTAMP)
	$(PY) -m benchmarks.run --only sweep_throughput

# The browser app: baseline and a scenario side by side. Serves on 127.0.0.1 and prints the URL;
# VIZ_PORT=0 picks a free port.
VIZSTAMP := $(VENV)/.installed-viz
$(VIZSTAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e '.[viz]'
	@touch $(STAMP) $@

VIZ_PORT ?= 8765

viz: $(VIZSTAMP)
	$(VENV)/bin/slsim-viz --port $(VIZ_PORT)

lint: $(DEVSTAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

clean:
	rm -rf $(VENV) outputs multirun .pytest_cache
