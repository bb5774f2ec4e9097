# gosim: the two commands of the README contract are `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
JOBS   ?= 2

.PHONY: run test test-pure lint bench figures measure clean venv

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# the modules setup.py compiles with mypyc (its NATIVE list): editing one
# recompiles at the next make (until then gosim runs them as pure Python:
# gosim/_native.py)
CORE := setup.py $(shell sed -n 's/^    "\(gosim\/.*\.py\)",$$/\1/p' setup.py)

$(VENV)/.installed: pyproject.toml $(CORE) | $(BIN)/python
	PYTHONWARNINGS="ignore:Editable installation" $(BIN)/python -m pip install --quiet -e .
	touch $@

# the test extra's packages only (gosim itself is installed and compiled above)
$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['optional-dependencies']['test']))" > $(VENV)/test-requirements.txt
	$(BIN)/python -m pip install --quiet -r $(VENV)/test-requirements.txt
	touch $@

venv: $(VENV)/.installed

## run: set up and run the main job (configs/quickstart.yaml -> results/quickstart/)
run: $(VENV)/.installed
	$(BIN)/gosim run

## test: set up with the test extras and run the whole suite
test: $(VENV)/.installed-test
	$(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q

## test-pure: the same suite on the pure-Python fallback (GOSIM_PURE_PYTHON=1)
test-pure: $(VENV)/.installed-test
	GOSIM_PURE_PYTHON=1 $(BIN)/python -m pytest -n $(JOBS) --dist loadgroup -q

lint: $(VENV)/.installed-test
	$(BIN)/ruff check gosim tests benchmarks scripts setup.py

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
	$(BIN)/python scripts/measure.py events --note "$(NOTE)"

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build gosim/_native_stamp.json
	find gosim -name '*.so' -delete; rm -f gosim_native__mypyc*.so
