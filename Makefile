# Two commands a newcomer needs: `make run` and `make test`. See README.md.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
DEV_SERVER := 127.0.0.1:8000
STRIPE_STANDIN_PORT := 12111

.PHONY: run test lint format check-python clean

PYTHON_IS_RECENT := import sys; sys.exit(sys.version_info < (3, 12))

check-python:
	@$(PYTHON) -c '$(PYTHON_IS_RECENT)' 2>/dev/null || \
		{ echo "SERS needs Python 3.12 or newer (.python-version asks for 3.13): install it, e.g. 'pyenv install 3.13', then run make again."; exit 1; }
	@[ ! -x $(BIN)/python ] || $(BIN)/python -c '$(PYTHON_IS_RECENT)' || \
		{ echo "$(VENV) was made with a Python older than 3.12: run 'make clean', then make again."; exit 1; }

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Stamp files: pip runs again only when a requirements file changes.
$(VENV)/.installed: requirements.txt | check-python $(BIN)/python
	$(BIN)/pip install --quiet -r requirements.txt
	@touch $@

$(VENV)/.installed-dev: requirements-dev.txt $(VENV)/.installed
	$(BIN)/pip install --quiet -r requirements-dev.txt
	@touch $@

# The embedded first run: SQLite file, Celery eager, mail on the console.
run: export DEBUG ?= 1
run: $(VENV)/.installed
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py load_demo
	@echo ""
	@echo "SERS is at http://$(DEV_SERVER)/  (Ctrl-C stops it)"
	@echo ""
	@# Without Stripe keys, card payments go to the local Stripe stand-in: test payments, no real money.
	@if [ -z "$$STRIPE_SECRET_KEY" ]; then \
		echo "No STRIPE_SECRET_KEY: card payments use the local Stripe stand-in on 127.0.0.1:$(STRIPE_STANDIN_PORT) (no real money)."; \
		export STRIPE_SECRET_KEY=sk_test_local_standin STRIPE_API_BASE=http://127.0.0.1:$(STRIPE_STANDIN_PORT) \
			STRIPE_WEBHOOK_SECRET=whsec_local_standin; \
		$(BIN)/python -m stripe_standin --host 127.0.0.1 --port $(STRIPE_STANDIN_PORT) \
			--webhook-url http://$(DEV_SERVER)/payments/stripe/webhook/ --webhook-secret whsec_local_standin & \
		standin=$$!; trap 'kill $$standin 2>/dev/null' EXIT INT TERM; \
		$(BIN)/python manage.py runserver $(DEV_SERVER); \
	else \
		$(BIN)/python manage.py runserver $(DEV_SERVER); \
	fi

# The whole suite on the real PostgreSQL and Redis (see README.md, Tests).
test: $(VENV)/.installed-dev
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

format: $(VENV)/.installed-dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles .pytest_cache .ruff_cache
