# The README's two commands: `make train` and `make test`. Each creates the virtual
# environment on first use (torch pinned first, then the pinned requirements).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: install train test test-quick lint test-slow synth prepare benchmark report clean

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	# torch first and pinned: an open range would pull a multi-GB CUDA build
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -r requirements.txt
	# the sweeper declares optuna<3, which breaks on SQLAlchemy 2: install it without its deps
	$(PY) -m pip install -q --no-deps hydra-optuna-sweeper==1.3.0
	$(PY) -m pip install -q --no-deps --no-build-isolation -e .
	touch $(STAMP)

train: $(STAMP)
	$(PY) train.py $(ARGS)

test: $(STAMP)
	$(PY) -m pytest -q $(ARGS)

# the unit tests alone (no subprocess or service end-to-end checks): a quick loop while editing
test-quick: $(STAMP)
	$(PY) -m pytest -q -m "not slow and not e2e" $(ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .

test-slow: $(STAMP)
	$(PY) -m pytest -q -m slow $(ARGS)

synth: $(STAMP)
	$(VENV)/bin/lst-synth $(ARGS)

prepare: $(STAMP)
	$(VENV)/bin/lst-prepare $(ARGS)

benchmark: $(STAMP)
	$(PY) -m benchmarks $(ARGS)

# the study report: reports/default/report.md (about 15 minutes on 2 cores); ARGS: lst-report options
report: $(STAMP)
	$(VENV)/bin/lst-report $(ARGS)

clean:
	rm -rf $(VENV) .pytest_cache
