"""The workbook runner stores notebooks in their reviewable form (what nbval then checks)."""

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from amccl.workbook import CHECK, store


def test_store_keeps_only_checked_outputs_with_a_positional_count(tmp_path):
    executed = new_notebook(cells=[
        new_markdown_cell("# title"),
        new_code_cell("x = 1", execution_count=7, outputs=[new_output("stream", text="noise\n")],
                      metadata={"tags": ["keep"], "ExecuteTime": {"start": "today"}}),
        new_code_cell(f"{CHECK}\nprint(x)", execution_count=8,
                      outputs=[new_output("stream", text="1\n"),
                               new_output("stream", name="stderr", text="SomeWarning: a machine's packages\n"),
                               new_output("execute_result", data={"text/plain": "1"}, execution_count=8)]),
    ], metadata={"kernelspec": {"name": "my-env", "display_name": "mine"}, "widgets": {}})
    src, dst = tmp_path / "executed.ipynb", tmp_path / "stored.ipynb"
    nbformat.write(executed, src)
    store(dst, src)

    nb = nbformat.read(dst, as_version=4)
    plain, checked = nb.cells[1], nb.cells[2]
    assert plain.outputs == [] and plain.execution_count is None
    assert plain.metadata == {"tags": ["keep"]}
    # nbval refuses a cell with outputs and no count: the count is the cell's code position
    assert checked.execution_count == 2
    assert [o["output_type"] for o in checked.outputs] == ["stream", "execute_result"]  # no stderr
    assert checked.outputs[0]["name"] == "stdout"
    assert checked.outputs[1]["execution_count"] is None
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert nb.metadata["jupytext"] == {"formats": "ipynb,py:percent"}
    assert "widgets" not in nb.metadata
    paired = (tmp_path / "stored.py").read_text()  # the jupytext pair, written after the notebook
    assert "# %% [markdown]\n# # title" in paired and "print(x)" in paired
    assert (tmp_path / "stored.py").stat().st_mtime_ns >= dst.stat().st_mtime_ns


def test_executing_a_notebook_prints_nothing_on_stderr(tmp_path):
    """No ipykernel warning (unencrypted TCP, parent exited) reaches make demo's log."""
    import subprocess
    import sys

    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(1 + 1)")]
    nbformat.write(nb, tmp_path / "t.ipynb")
    (tmp_path / "out").mkdir()
    code = (f"from pathlib import Path; from amccl.workbook import execute; "
            f"execute(Path({str(tmp_path / 't.ipynb')!r}), Path({str(tmp_path / 'out')!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr == ""
    ran = nbformat.read(tmp_path / "out" / "t.ipynb", as_version=4)
    assert ran.cells[0].outputs[0]["text"] == "2\n"


def test_a_run_folder_is_named_by_the_profile_and_a_hash_of_the_settings(tmp_path, monkeypatch):
    import hashlib
    import json

    from amccl.config import AMCCLConfig
    from amccl.workbook import run_dir_for, settings_id

    monkeypatch.setenv("AMCCL_RUN_DIR", str(tmp_path))
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke")
    digest = hashlib.sha1(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:8]
    assert settings_id(cfg) == digest  # the folder names of earlier runs: their rows are resumed
    assert run_dir_for("03_ablations", cfg) == tmp_path / f"03_ablations-smoke-{digest}"
    assert settings_id(cfg.replace(gamma=0.0)) != digest
