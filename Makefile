# The course's two commands (see README.md), plus the instructor's and maintainer's.
# Everything runs inside a virtual environment in .venv, made on first use.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# nbgrader runs `alembic` from PATH, so the environment's bin goes first.
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"

.PHONY: lab work instructor-lab test install install-grading student-versions \
	check-student-versions bench

# The learner's environment: the course and its helpers, no answer key.
install: $(VENV)/.installed
# Where grading runs (instructors, maintainers, the tests): the grading side on top.
install-grading: $(VENV)/.grading-installed

$(VENV)/.installed: requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.grading-installed: $(VENV)/.installed requirements-grading.txt grader/pyproject.toml
	$(BIN)/python -m pip install --quiet -r requirements-grading.txt
	touch $@

LAB_ARGS ?=
# Jupyter refuses to run as root unless told; containers often run as root.
ROOT_ARG := $(if $(filter 0,$(shell id -u)),--allow-root)

# The learner's own copies of the notebooks: made on first use, updated by the course, never
# overwriting what the learner changed (see course_utils/workspace.py).
WORK ?= work
# The learner's JupyterLab settings (binder/learner/, shared with Binder): nbgrader's
# instructor tools off, no news pop-up, idle kernels shut down after 15 minutes, Markdown shown
# rendered. It opens on the start page that course_utils.workspace copies into the work folder.
LEARNER_JUPYTER := JUPYTER_CONFIG_DIR="$(CURDIR)/binder/learner"

work: install  ## make or update the learner's work folder
	$(RUN) $(BIN)/python -m course_utils.workspace --work $(WORK)

lab: work  ## install everything and open the course in JupyterLab, on its start page
	$(RUN) $(LEARNER_JUPYTER) $(BIN)/jupyter lab --notebook-dir=$(WORK) \
	  --LabApp.default_url=/lab/tree/00_start_here.md $(ROOT_ARG) $(LAB_ARGS)

instructor-lab: install-grading  ## JupyterLab on the repository with nbgrader's instructor tools
	$(RUN) $(BIN)/jupyter lab $(ROOT_ARG) $(LAB_ARGS)

test: install-grading  ## install what the tests need and run the whole test suite
	$(RUN) $(BIN)/python -m pytest

student-versions: install-grading  ## rebuild notebooks/ from solutions/
	$(RUN) $(BIN)/python -m course_grading.build

check-student-versions: install-grading
	$(RUN) $(BIN)/python -m course_grading.build --check

bench: install-grading  ## measure notebooks, recipes, start-up, grading and Binder fit
	$(RUN) $(BIN)/python bench/run.py --json bench/latest.json
