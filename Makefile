# Everyday entry points. Each target creates .venv and installs the pinned
# dependencies on first use (idempotent: reinstalls only when
# requirements.txt or setup.py change).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install demo test clean-demo

install: $(STAMP)

$(STAMP): requirements.txt setup.py
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps -e .
	touch $(STAMP)

demo: $(STAMP)
	$(PY) tools/demo.py --work-dir work_dirs/demo

test: $(STAMP)
	$(PY) -m pytest -q tests

clean-demo:
	rm -rf work_dirs/demo
