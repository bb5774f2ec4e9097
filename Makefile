# gosim: the two commands of the README contract are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
JOBS   ?= 2

.PHONY: run test lint bench figures measure clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(VENV)/.installed $@

venv: $(VENV)/.installed

## run: set up and run the main job (configs/quickstart.yaml -> results/quickstart/)
run: $(VENV)/.installed
	$(BIN)/gosim run

## test: set up with the test extras and run the whole suite
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gosim tests benchmarks scripts

bench: $(VENV)/.installed
	$(BIN)/python benchmarks/bench.py

## figures: rerun what README's figures come from and rewrite their marked blocks
figures: $(VENV)/.installed
	$(BIN)/python scripts/figures.py

## measure: re-measure the machine-dependent figures into benchmarks/measured.json
## (benchmarks, then make run / make test in a fresh clone); then run make figures
measure: $(VENV)/.installed
	$(BIN)/python scripts/measure.py bench --note "$(NOTE)"
	$(BIN)/python scripts/measure.py make --note "$(NOTE)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis
