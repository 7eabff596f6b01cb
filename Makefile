# The README's two commands: `make demo` and `make test`.
VENV ?= .venv
PY := $(VENV)/bin/python
export VENV

.PHONY: env demo test lint

env:
	bash tools/misc/setup_env.sh

demo: env
	$(PY) tools/misc/run_demo.py

lint: env
	$(PY) -m ruff check fcos_mm configs tools tests setup.py

test: lint
	$(PY) -m pytest tests -q -p no:cacheprovider \
		--cov=fcos_mm --cov-report=term-missing:skip-covered \
		--cov-fail-under=90
