# Everything a newcomer needs: `make test` and `make demo` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: test lint typecheck demo bench clean

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check ticktick tests bench
	$(BIN)/ruff format --check ticktick tests bench

typecheck: $(STAMP)
	$(BIN)/mypy --strict ticktick tests bench

# coverage starts before pytest, so the pytest plugin's early import of ticktick is measured.
test: lint typecheck
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report --fail-under=90

demo: $(STAMP)
	$(BIN)/python -m ticktick.testing.demo

# Benchmarks print ratios against a baseline measured in the same run; not part of `test`.
bench: $(STAMP)
	$(BIN)/python bench/bench_token_command.py
	$(BIN)/python bench/bench_api_overhead.py

clean:
	rm -rf $(VENV) build dist *.egg-info .coverage .pytest_cache .mypy_cache .ruff_cache
