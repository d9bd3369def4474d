# The course's two commands (see README.md), plus the instructor's and maintainer's.
# Everything runs inside a virtual environment in .venv, made on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# nbgrader runs `alembic` from PATH, so the environment's bin goes first.
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: lab test install student-versions check-student-versions bench

install: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

lab: install  ## install everything and open the course in JupyterLab
	$(RUN) $(BIN)/jupyter lab --notebook-dir=notebooks $(ROOT_ARG) $(LAB_ARGS)

test: install  ## install what the tests need and run the whole test suite
	$(RUN) $(BIN)/python -m pytest

student-versions: install  ## rebuild notebooks/ from solutions/
	$(RUN) $(BIN)/python -m course_utils.grading.build

check-student-versions: install
	$(RUN) $(BIN)/python -m course_utils.grading.build --check

bench: install  ## measure notebooks, recipes, start-up, grading and Binder fit
	$(RUN) $(BIN)/python bench/run.py --json bench/latest.json
