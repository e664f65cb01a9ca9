# Everything a newcomer needs: `make test` and `make demo` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: test lint typecheck demo bench docs screenshots clean

$(STAMP): setup.cfg setup.py pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

$(DOCS_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[test,docs]'
	touch $(DOCS_STAMP)

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

# The docs site, built strictly (any warning fails), then checked for broken internal links.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python docs/_tools/check_links.py site

# Regenerate the docs' screenshots with the headless-Chromium end-to-end test.
screenshots: $(STAMP)
	TICKTICK_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/test_browser.py

clean:
	rm -rf $(VENV) build dist site *.egg-info .coverage .pytest_cache .mypy_cache .ruff_cache
