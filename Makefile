# Everything a newcomer needs: `make test` and `make demo` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test

.PHONY: test lint typecheck demo clean

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check ticktick tests
	$(BIN)/ruff format --check ticktick tests

typecheck: $(STAMP)
	$(BIN)/mypy --strict ticktick tests

# coverage starts before pytest, so the pytest plugin's early import of ticktick is measured.
test: lint typecheck
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage report --fail-under=90

demo: $(STAMP)
	$(BIN)/python -m ticktick.testing.demo

clean:
	rm -rf $(VENV) build dist *.egg-info .coverage .pytest_cache .mypy_cache .ruff_cache
