"""The JupyterLab settings `make lab` ships (jupyter/): the jupytext .py twins are hidden, no news prompt.

No server is started: the Makefile's commands are read with ``make -n``, the server config is loaded the way the
server loads it (from the Jupyter config path the Makefile sets) into jupytext's contents manager, and the lab
overrides are read by the function JupyterLab's settings handler uses.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("jupyterlab")
pytest.importorskip("jupytext")

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
OVERRIDES = REPO / "jupyter" / "lab_overrides.json5"
NEWS_PLUGIN = "@jupyterlab/apputils-extension:notification"


@pytest.fixture(scope="module")
def make_lab_commands() -> str:
    """The shell lines ``make lab`` would run (``-n``: printed, not run; ``-B``: the set-up lines as well)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    out = subprocess.run(["make", "-n", "-B", "-C", str(REPO), "lab"], capture_output=True, text=True, check=True)
    return out.stdout


def lab_config_path(commands: str) -> str:
    """The JUPYTER_CONFIG_PATH entry the ``jupyter lab`` line of ``commands`` puts first."""
    match = re.search(r"JUPYTER_CONFIG_PATH=([^$\s:]+)", commands)
    assert match, commands
    return match.group(1)


def load_server_config(config_path: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    """The config a ServerApp loads from its config files, with ``config_path`` as the Makefile sets it.

    The user's own config dir is an empty temporary one, as for a first-time user.
    """
    from jupyter_server.serverapp import ServerApp

    monkeypatch.setenv("JUPYTER_CONFIG_PATH", config_path)
    monkeypatch.setenv("JUPYTER_CONFIG_DIR", str(tmp_path / "user-config"))
    app = ServerApp()
    app.load_config_file(suppress_errors=False)
    app.init_event_logger()  # the contents manager reports to it
    return app


def jupytext_manager(app):
    """The contents manager jupytext's server extension installs: its class derived from the server's, on notebooks/."""
    from jupyter_server.services.contents.manager import ContentsManager
    from jupytext.async_contentsmanager import build_async_jupytext_contents_manager_class

    base = app.contents_manager_class
    assert issubclass(base, ContentsManager) and asyncio.iscoroutinefunction(base.get)
    cls = build_async_jupytext_contents_manager_class(base)
    return cls(parent=app, root_dir=str(NOTEBOOKS))


def test_make_lab_puts_the_repo_config_first_on_the_jupyter_config_path(make_lab_commands):
    path = lab_config_path(make_lab_commands)
    assert Path(path) == REPO / "jupyter" and (Path(path) / "jupyter_server_config.py").is_file()
    assert "jupyter lab notebooks/" in make_lab_commands


def test_the_server_lists_each_notebook_once_and_still_serves_its_py_twin(make_lab_commands, tmp_path, monkeypatch):
    from jupyter_server.services.contents.manager import ContentsManager

    app = load_server_config(lab_config_path(make_lab_commands), tmp_path, monkeypatch)
    manager = jupytext_manager(app)
    defaults = ContentsManager.class_traits()["hide_globs"].default()
    assert set(defaults) < set(manager.hide_globs)  # the server's defaults are kept

    listing = asyncio.run(manager.get("", content=True))["content"]
    listed = sorted(item["name"] for item in listing)
    notebooks = sorted(p.name for p in NOTEBOOKS.glob("*.ipynb"))
    twins = sorted(p.name for p in NOTEBOOKS.glob("*.py"))
    assert len(notebooks) == 4 and [Path(t).stem for t in twins] == [Path(n).stem for n in notebooks]
    assert not set(twins) & set(listed) and set(notebooks) <= set(listed)
    assert "nbval_sanitize.cfg" in listed  # only the twins are hidden
    assert not manager.should_list("05_next.py")  # a future notebook's twin too, but no other file
    assert manager.should_list("05_next.ipynb") and manager.should_list("helpers.py")

    twin = asyncio.run(manager.get(twins[0], content=False))  # hidden from the listing only
    assert twin["name"] == twins[0]


def test_the_news_prompt_is_switched_off_where_the_lab_reads_overrides(make_lab_commands, tmp_path):
    import json5
    from jupyterlab.commands import get_app_dir
    from jupyterlab_server.settings_utils import _get_overrides

    shipped = json5.loads(OVERRIDES.read_text(encoding="utf-8"))
    assert shipped == {NEWS_PLUGIN: {"fetchNews": "false"}}  # "none", the default, asks the first-time user

    schema = json5.loads((Path(get_app_dir()) / "schemas" / NEWS_PLUGIN.replace(":", os.sep)).with_suffix(".json")
                         .read_text(encoding="utf-8"))
    assert "false" in [choice["const"] for choice in schema["properties"]["fetchNews"]["oneOf"]]

    # the Makefile copies it under the venv's <prefix>/share/jupyter/lab/settings, the lab's default settings dir
    copy = re.search(r"cp jupyter/lab_overrides\.json5 \.venv/(\S+)", make_lab_commands)
    assert copy, make_lab_commands
    assert Path(copy.group(1)) == (Path(get_app_dir()) / "settings" / "overrides.d" / "amccl.json5").relative_to(
        sys.prefix)

    settings_dir = tmp_path / "settings"
    (settings_dir / "overrides.d").mkdir(parents=True)
    shutil.copy(OVERRIDES, settings_dir / "overrides.d" / "amccl.json5")
    overrides, error = _get_overrides(str(settings_dir))
    assert not error and overrides[NEWS_PLUGIN]["fetchNews"] == "false"
