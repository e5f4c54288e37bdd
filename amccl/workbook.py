"""Run the workbook: execute the notebooks in order and keep the executed copies and figures.

``python -m amccl.workbook --out runs/workbook`` is what ``make demo`` runs. Notebooks find
their output folder with :func:`run_dir` and save figures with :func:`save_figure`, so the
same notebook works under this runner, under nbval and in JupyterLab.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from amccl.config import default_profile

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_data_inspection.ipynb", "02_training.ipynb", "03_ablations.ipynb", "04_embeddings.ipynb")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CHECK = "# NBVAL_CHECK_OUTPUT"
PY_FORMAT = "py:percent"  # jupytext: each notebook has a .py twin in this format


def run_dir() -> Path:
    """Where notebooks write checkpoints, tables and figures: ``AMCCL_RUN_DIR`` or ``runs/<profile>``."""
    path = Path(os.environ.get("AMCCL_RUN_DIR") or REPO / "runs" / default_profile())
    path.mkdir(parents=True, exist_ok=True)
    return path


def save_figure(fig, name: str) -> Path:
    """Save ``fig`` as ``<run_dir>/figures/<name>.png`` (150 dpi) and return the path."""
    from amccl.plotting import save_figure as save

    return save(fig, run_dir() / "figures" / f"{name}.png")


def execute(notebook: Path, out_dir: Path, timeout: int = 1800) -> float:
    """Execute one notebook with the current interpreter's kernel; returns seconds taken."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(notebook.parent)}})
    try:
        client.execute()
    finally:
        nbformat.write(nb, out_dir / notebook.name)  # keep what ran, even on failure
    return time.perf_counter() - start


def store(notebook: Path, executed: Path) -> None:
    """Write ``notebook`` back in its reviewable form from an executed copy (smoke profile).

    Only cells marked ``# NBVAL_CHECK_OUTPUT`` keep their outputs (what nbval compares) and
    an execution count (nbval refuses a cell with outputs but no count; the count is the
    cell's position among the code cells, so it does not depend on how the run went). Other
    outputs and counts, stderr streams (warnings) and machine-specific metadata are dropped;
    the jupytext pairing stays.
    """
    import jupytext
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    code_cells = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code_cells, start=1):
        checked = CHECK in cell.source
        cell.execution_count = number if checked else None
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        # warnings on stderr depend on the machine's packages, not on what the cell computes
        cell.outputs = [o for o in cell.outputs if checked and not (o.output_type == "stream" and o.name == "stderr")]
        for output in cell.outputs:
            if "execution_count" in output:
                output["execution_count"] = None
    nb.metadata = {"jupytext": {"formats": f"ipynb,{PY_FORMAT}"}, "kernelspec": KERNELSPEC, "language_info": {"name": "python"}}
    nbformat.write(nb, notebook)
    # Rewrite the paired .py from the notebook just written: JupyterLab's jupytext refuses to
    # open a pair whose .ipynb is newer than its .py when the two differ (even in blank lines).
    jupytext.write(nb, notebook.with_suffix(".py"), fmt=PY_FORMAT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amccl.workbook", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "workbook"), help="folder for executed notebooks and figures")
    parser.add_argument("--only", nargs="*", default=None, help="run only these notebooks (file names)")
    parser.add_argument("--store", action="store_true",
                        help="maintainers: execute in the smoke profile and write the notebooks back "
                             "with only their checked outputs")
    args = parser.parse_args(argv)
    if args.store:
        os.environ["AMCCL_PROFILE"] = "smoke"
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["AMCCL_RUN_DIR"] = str(out)
    os.environ.setdefault("AMCCL_PROFILE", default_profile())
    total = 0.0
    for name in args.only or NOTEBOOKS:
        print(f"[workbook] {name} (profile {os.environ['AMCCL_PROFILE']}) ...", flush=True)
        seconds = execute(REPO / "notebooks" / name, out)
        total += seconds
        print(f"[workbook] {name} done in {seconds:.0f} s -> {out / name}", flush=True)
        if args.store:
            store(REPO / "notebooks" / name, out / name)
    print(f"[workbook] all done in {total:.0f} s; figures in {out / 'figures'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
