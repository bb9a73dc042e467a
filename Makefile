# Two commands do all the set-up on a fresh clone:
#   make run    install, migrate, load the sample district, start the bot (needs BOT_TOKEN)
#   make test   install, lint, run the tests (SQLite and PostgreSQL)
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: run test lint locales bench clean

$(INSTALLED): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

run: $(INSTALLED)
	$(BIN)/redgrid init
	$(BIN)/redgrid run

# Extract the msgids from the code into both catalogues, then compile them.
locales: $(INSTALLED)
	$(BIN)/pybabel extract -F babel.cfg -k _ -k __ -k N_ -k gettext -k lazy_gettext \
		--no-location --sort-output --width 100 -o locales/messages.pot .
	$(BIN)/pybabel update -D messages -i locales/messages.pot -d locales \
		--no-fuzzy-matching --ignore-obsolete --width 100
	$(BIN)/pybabel compile --statistics -D messages -d locales

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint
	$(BIN)/pybabel compile --statistics -D messages -d locales
	$(BIN)/python -m pytest

bench: $(INSTALLED)
	$(BIN)/python benchmarks/routing.py
	$(BIN)/python benchmarks/conversation.py
	$(BIN)/python benchmarks/outbox.py
	$(BIN)/python benchmarks/sweep.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
