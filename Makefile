# The two commands of the README, and the set-up they share.
#   make demo  -- the main job: execute the four notebooks on the embedded default (demo profile)
#   make test  -- every test: ruff, unit tests and the notebooks under nbval (smoke profile)
# Both create .venv at the repository root on first use; torch is installed first so that
# pip takes the CPU wheel (torch==2.13.0) instead of pulling a multi-GB CUDA build.

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
TORCH  ?= torch==2.13.0
EXTRAS ?= notebooks,test,ray
OUT    ?= runs/workbook

.PHONY: setup demo test lint unit notebooks lab clean bench

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[$(EXTRAS)]"
	touch $@

# JupyterLab settings defaults (no Jupyter-news prompt) go where the lab reads overrides: the venv's lab settings.
LAB_OVERRIDES := $(VENV)/share/jupyter/lab/settings/overrides.d/amccl.json5

$(LAB_OVERRIDES): jupyter/lab_overrides.json5 $(VENV)/.installed
	mkdir -p $(@D) && cp $< $@

setup: $(VENV)/.installed $(LAB_OVERRIDES)

demo: setup
	AMCCL_PROFILE=$${AMCCL_PROFILE:-demo} HF_HUB_OFFLINE=1 $(PY) -m amccl.workbook --out $(OUT)

test: setup lint
	AMCCL_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest tests notebooks --nbval-lax \
		--nbval-sanitize-with notebooks/nbval_sanitize.cfg -p no:cacheprovider

lint: setup
	$(VENV)/bin/ruff check amccl tests benchmarks

unit: setup
	AMCCL_PROFILE=smoke HF_HUB_OFFLINE=1 $(PY) -m pytest tests

# jupyter/ goes first on the Jupyter config path: its server config hides the notebooks'
# jupytext .py twins from the file browser, so each notebook is listed once.
lab: setup
	JUPYTER_CONFIG_PATH=$(CURDIR)/jupyter$${JUPYTER_CONFIG_PATH:+:$$JUPYTER_CONFIG_PATH} \
		HF_HUB_OFFLINE=1 $(VENV)/bin/jupyter lab notebooks/ $(LAB_ARGS) $$( [ "$$(id -u)" = 0 ] && echo --allow-root )

bench: setup
	HF_HUB_OFFLINE=1 bash benchmarks/run_all.sh

clean:
	rm -rf runs .pytest_cache
