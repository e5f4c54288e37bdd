"""Run the workbook (``make demo``: ``python -m amccl.workbook --out runs/workbook``): execute the
notebooks in order and keep the executed copies and figures. Notebooks write under :func:`run_dir`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

from amccl.config import default_profile

REPO = Path(__file__).resolve().parent.parent
NOTEBOOKS = ("01_data_inspection.ipynb", "02_training.ipynb", "03_ablations.ipynb", "04_embeddings.ipynb")
KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
CHECK = "# NBVAL_CHECK_OUTPUT"
PY_FORMAT = "py:percent"  # jupytext: each notebook has a .py twin in this format
# The README's figures: written to docs/figures by `make demo` (the demo profile).
GALLERY = ("02_learning_curves", "02_test_vs_constant", "02_confusion_acc7", "03_ablations_mae",
           "04_side_by_side", "04_alignment_table", "04_gamma_sweep")
GALLERY_DIR = REPO / "docs" / "figures"
GALLERY_DPI = 100
GALLERY_ENV = "AMCCL_GALLERY_DIR"
GALLERY_MAX_BYTES = 2 * 1024 * 1024  # all of docs/figures together


def run_dir() -> Path:
    """Where notebooks write checkpoints, tables and figures: ``AMCCL_RUN_DIR`` or ``runs/<profile>``."""
    path = Path(os.environ.get("AMCCL_RUN_DIR") or REPO / "runs" / default_profile())
    path.mkdir(parents=True, exist_ok=True)
    return path


def settings_id(cfg) -> str:
    """Eight hex digits of the SHA-1 of ``cfg.to_dict()`` (sorted JSON): one per setting."""
    return hashlib.sha1(json.dumps(cfg.to_dict(), sort_keys=True, default=str).encode()).hexdigest()[:8]


def run_dir_for(name: str, cfg) -> Path:
    """``<run_dir()>/<name>-<profile>-<settings_id>``: the same settings resume in the same folder."""
    return run_dir() / f"{name}-{cfg.profile}-{settings_id(cfg)}"


def execute(notebook: Path, out_dir: Path, timeout: int = 1800) -> float:
    """Execute one notebook with the current interpreter's kernel; returns seconds taken."""
    import nbformat
    from jupyter_client.manager import KernelManager
    from nbclient import NotebookClient

    nb = nbformat.read(notebook, as_version=4)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="amccl-kernel-") as sockets:
        # IPC sockets in a private folder: no TCP port, no ipykernel warning about unencrypted TCP
        km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
        client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(notebook.parent)}})
        try:
            client.execute()
        finally:
            nbformat.write(nb, out_dir / notebook.name)  # keep what ran, even on failure
            if km.has_kernel:  # nbclient leaves a kernel manager it was given running
                km.shutdown_kernel(now=False)
    return time.perf_counter() - start


def cell_seconds(executed: Path) -> list[tuple[float, str]]:
    """(seconds, first code line) of each executed code cell, slowest first (nbclient's timing)."""
    import nbformat

    timed = []
    for cell in nbformat.read(executed, as_version=4).cells:
        timing = cell.get("metadata", {}).get("execution", {})
        begin, end = timing.get("iopub.execute_input"), timing.get("shell.execute_reply")
        if cell.cell_type == "code" and begin and end:
            seconds = (datetime.fromisoformat(end.replace("Z", "+00:00"))
                       - datetime.fromisoformat(begin.replace("Z", "+00:00"))).total_seconds()
            lines = [line for line in cell.source.splitlines() if line.strip() and not line.startswith("#")]
            timed.append((seconds, lines[0][:60] if lines else ""))
    return sorted(timed, reverse=True)


def store(notebook: Path, executed: Path) -> None:
    """Write ``notebook`` back from an executed copy: only cells marked ``# NBVAL_CHECK_OUTPUT`` keep
    their outputs (without stderr) and a count (their position among the code cells, which nbval needs);
    machine-specific metadata is dropped, the jupytext pairing stays."""
    import jupytext
    import nbformat

    nb = nbformat.read(executed, as_version=4)
    for number, cell in enumerate((cell for cell in nb.cells if cell.cell_type == "code"), start=1):
        checked = CHECK in cell.source
        cell.execution_count = number if checked else None
        cell.metadata = {k: v for k, v in cell.metadata.items() if k in ("tags",)}
        cell.outputs = [o for o in cell.outputs if checked and not (o.output_type == "stream" and o.name == "stderr")]
        for output in cell.outputs:
            if "execution_count" in output:
                output["execution_count"] = None
    nb.metadata = {"jupytext": {"formats": f"ipynb,{PY_FORMAT}"}, "kernelspec": KERNELSPEC,
                   "language_info": {"name": "python"}}
    nbformat.write(nb, notebook)
    # jupytext refuses a pair whose .ipynb is newer than its differing .py: rewrite the .py too
    jupytext.write(nb, notebook.with_suffix(".py"), fmt=PY_FORMAT)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m amccl.workbook", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "runs" / "workbook"),
                        help="folder for executed notebooks and figures")
    parser.add_argument("--only", nargs="*", default=None, help="run only these notebooks (file names)")
    parser.add_argument("--gallery", default=None, metavar="DIR", help="write the README's figures here (default: "
                        f"{GALLERY_DIR.relative_to(REPO)} in the demo profile, none otherwise)")
    parser.add_argument("--store", action="store_true", help="maintainers: execute in the smoke profile and write "
                        "the notebooks back with only their checked outputs")
    args = parser.parse_args(argv)
    if args.store:
        os.environ["AMCCL_PROFILE"] = "smoke"
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    os.environ["AMCCL_RUN_DIR"] = str(out)
    os.environ.setdefault("AMCCL_PROFILE", default_profile())
    gallery = gallery_folder(os.environ["AMCCL_PROFILE"], args.gallery, args.store)
    if gallery:
        Path(gallery).mkdir(parents=True, exist_ok=True)
        os.environ[GALLERY_ENV] = str(Path(gallery).resolve())
    total = 0.0
    for name in args.only or NOTEBOOKS:
        print(f"[workbook] {name} (profile {os.environ['AMCCL_PROFILE']}) ...", flush=True)
        seconds = execute(REPO / "notebooks" / name, out)
        total += seconds
        print(f"[workbook] {name} done in {seconds:.0f} s -> {out / name}", flush=True)
        slow = [f"{t:.0f} s `{line}`" for t, line in cell_seconds(out / name)[:3] if t >= 10]
        if slow:
            print(f"[workbook]   slowest cells: {'; '.join(slow)}", flush=True)
        if args.store:
            store(REPO / "notebooks" / name, out / name)
    print(f"[workbook] all done in {total:.0f} s; figures in {out / 'figures'}")
    if gallery:
        print(gallery_report(Path(gallery)))
    return 0


def gallery_folder(profile: str, explicit: str | None = None, store: bool = False) -> str | None:
    """Where this run writes the README's figures: ``--gallery``, else ``docs/figures`` in a demo run, else none."""
    return explicit or (str(GALLERY_DIR) if profile == "demo" and not store else None)


def gallery_report(folder: Path) -> str:
    """One line on the README's figures in ``folder``: how many, their size, what is missing."""
    files = [folder / f"{name}.png" for name in GALLERY]
    missing = [f.stem for f in files if not f.is_file()]
    size = sum(f.stat().st_size for f in folder.glob("*.png"))
    over = f" -- over the {GALLERY_MAX_BYTES // 2**20} MB budget" if size > GALLERY_MAX_BYTES else ""
    return (f"[workbook] gallery: {len(files) - len(missing)} of {len(GALLERY)} figures in {folder}, "
            f"{size / 1024:.0f} KB{over}"
            + (f"; missing: {', '.join(missing)}" if missing else ""))


if __name__ == "__main__":
    sys.exit(main())
