# Everything a newcomer needs: `make test` and `make demo` set up .venv themselves.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-test
DOCS_STAMP := $(VENV)/.installed-docs

.PHONY: test lint typecheck fuzz demo dist bench bench-before docs screenshots audit clean

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
	$(BIN)/bandit -q -c pyproject.toml -r ticktick
	$(BIN)/lint-imports --no-logo --no-cache pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy --strict ticktick tests bench

# coverage starts before pytest, so the pytest plugin's early import of ticktick is measured.
test: lint typecheck
	$(BIN)/coverage erase
	$(BIN)/coverage run -m pytest
	$(BIN)/coverage combine --quiet
	$(BIN)/coverage report --fail-under=90

# Every parser fuzzed with 10,000 seeded examples each (make test runs 300 of each):
# the environment value, cache content, pasted redirect, token response, token
# literal, Open API answers (status, charset, Retry-After, body) and CLI arguments.
FUZZ_EXAMPLES ?= 10000
fuzz: $(STAMP)
	TICKTICK_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) $(BIN)/python -m pytest -q -p no:cacheprovider \
		-o log_level=WARNING tests/test_fuzz.py

demo: $(STAMP)
	$(BIN)/python -m ticktick.testing.demo

# The source archive and the wheel, in dist/: `pip install dist/ticktick_oauth-*.whl`.
dist: $(STAMP)
	rm -rf build dist  # build/: setuptools would pack files left there by an older build
	$(BIN)/python -m build --outdir dist .

# Benchmarks print ratios against a baseline measured in the same run; not part of `test`.
# Two venvs side by side: a regular (not editable) install of this project, and
# ticktick-py from PyPI (both import as `ticktick`).
BENCH_OURS := bench/.venv-ours
BENCH_TPY  := bench/.venv-ticktick-py
SOURCES    := $(shell find ticktick -name '*.py') setup.cfg setup.py pyproject.toml

$(BENCH_OURS)/.installed: $(SOURCES)
	rm -rf $(BENCH_OURS) build  # build/: setuptools would install files left there by an older build
	$(PYTHON) -m venv $(BENCH_OURS)
	$(BENCH_OURS)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_OURS)/bin/python -m pip install --quiet '.[httpx]'
	touch $@

$(BENCH_TPY)/.installed:
	$(PYTHON) -m venv $(BENCH_TPY)
	$(BENCH_TPY)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_TPY)/bin/python -m pip install --quiet 'ticktick-py==2.0.3'
	touch $@

bench: $(STAMP) $(BENCH_OURS)/.installed $(BENCH_TPY)/.installed
	$(BIN)/python bench/compare.py --ours $(BENCH_OURS)/bin/python \
		--ticktick-py $(BENCH_TPY)/bin/python

# This tree against an earlier revision of it: measures 1-4 and 7, alternating between
# the two installs in the same loops, written to bench/before-after.md and .json (not to
# the docs page, which compares with ticktick-py). The before venv holds a regular
# install of `git archive $(BEFORE)`, rebuilt when BEFORE names another commit.
# BEFORE defaults to where this branch left main; any revision works: BEFORE=HEAD~3.
# BEFORE_REPEAT=40 doubles `make bench`'s counts: with the same code on both sides,
# the ratios then stayed within about 2 % (4 % for measure 4) on a busy 2-CPU machine.
BEFORE        ?= $(shell git merge-base main HEAD 2>/dev/null || echo main)
BENCH_BEFORE  := bench/.venv-before
BEFORE_REPEAT ?= 40
OUR_FILES     := ticktick setup.cfg setup.py pyproject.toml

bench-before: $(STAMP) $(BENCH_OURS)/.installed
	@rev=$$(git rev-parse --verify --quiet '$(BEFORE)^{commit}') \
		|| { echo "BEFORE=$(BEFORE) is not a git revision" >&2; exit 1; }; \
	if [ "$$(cat $(BENCH_BEFORE)/.installed 2>/dev/null)" != "$$rev" ]; then \
		echo "building $(BENCH_BEFORE) from $(BEFORE) ($$rev)"; \
		tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
		git archive "$$rev" | tar -x -C "$$tmp" && \
		rm -rf $(BENCH_BEFORE) && $(PYTHON) -m venv $(BENCH_BEFORE) && \
		$(BENCH_BEFORE)/bin/python -m pip install --quiet --upgrade pip && \
		$(BENCH_BEFORE)/bin/python -m pip install --quiet "$$tmp" && \
		echo "$$rev" > $(BENCH_BEFORE)/.installed || exit 1; \
	fi; \
	before="$$(git rev-parse --short $$rev)"; \
	[ "$(BEFORE)" = "$$rev" ] || before="$(BEFORE) ($$before)"; \
	after="$$(git rev-parse --short HEAD)"; \
	[ -z "$$(git status --porcelain -- $(OUR_FILES))" ] || after="$$after + uncommitted changes"; \
	set -x; $(BIN)/python bench/compare.py --ours $(BENCH_OURS)/bin/python \
		--before $(BENCH_BEFORE)/bin/python --repeat $(BEFORE_REPEAT) \
		--before-label "$$before" --after-label "$$after"

# The docs site, built strictly (any warning fails), then checked for broken internal links.
docs: $(DOCS_STAMP)
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --site-dir site
	$(BIN)/python docs/_tools/check_links.py site

# Known vulnerabilities in the installed dependencies. Needs PyPI's JSON API or OSV
# online, which not every network allows, so it is not part of `test`.
audit: $(STAMP)
	$(BIN)/pip-audit --progress-spinner off

# Regenerate the docs' screenshots with the headless-Chromium end-to-end test.
screenshots: $(STAMP)
	TICKTICK_SCREENSHOTS=docs/images $(BIN)/python -m pytest -q tests/test_browser.py

clean:
	rm -rf $(VENV) $(BENCH_OURS) $(BENCH_TPY) $(BENCH_BEFORE) build dist site *.egg-info .coverage .pytest_cache .mypy_cache .ruff_cache
