"""Jupyter server settings for `make lab`, which puts this folder on JUPYTER_CONFIG_PATH.

Each notebook's jupytext twin (notebooks/NN_name.py, paired as ipynb,py:percent) is hidden from the file browser,
so every notebook is listed once. Listing is all that hide_globs changes: the contents manager (jupytext's, derived
from the server's) still reads and writes the twin, so the pair stays in sync on save. `append` keeps the defaults.
"""

c = get_config()  # noqa: F821  (injected by the traitlets config loader)

c.ContentsManager.hide_globs.append("[0-9][0-9]_*.py")
