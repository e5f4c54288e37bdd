"""Run-time plumbing: devices, seeds and RNG states (docs/model.md §4, §8), logging, progress
bars, atomic writes. Nothing here knows about the model."""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import random
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import torch


def atomic_write(path: str | os.PathLike, write: Callable[[BinaryIO], Any]) -> Path:
    """Write ``path`` all at once or not at all: ``write(handle)`` fills a temporary file in the
    same folder, fsynced and renamed over ``path`` (removed on any error). Returns ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    with contextlib.suppress(OSError):  # make the rename durable; not every platform opens folders
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return path


def resolve_device(name: str | torch.device | None = "auto") -> torch.device:
    """The device ``name`` (``auto``/``None``: CUDA, else MPS, else CPU; ``cpu``, ``cuda``, ``cuda:N``,
    ``mps`` or a ``torch.device``). Raises ``ValueError`` for a device not here (naming those that are)."""
    found = [kind for kind, present in (("cpu", True), ("cuda", torch.cuda.is_available()),
                                        ("mps", torch.backends.mps.is_available())) if present]
    if name is None or str(name) == "auto":
        return torch.device("cuda" if "cuda" in found else "mps" if "mps" in found else "cpu")
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(f"unknown device {name!r}; use auto, cpu, cuda, cuda:N or mps") from err
    have = "available: " + ", ".join(found)
    if device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"unsupported device {name!r}; use auto, cpu, cuda, cuda:N or mps")
    if device.type not in found:
        raise ValueError(f"device {name!r} requested but {device.type.upper()} is not available here; {have}")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise ValueError(f"device {name!r}: only {torch.cuda.device_count()} CUDA device(s); {have}")
    return device


def environment_info(device: torch.device) -> dict[str, str]:
    """Package versions and the device (``cuda:0 (NVIDIA H100)``, ``cpu (x86_64, 2 threads)``)."""
    import transformers

    import amccl

    described = str(device)
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
        described = f"cuda:{index} ({torch.cuda.get_device_name(index)})"
    elif device.type == "cpu":
        described = f"cpu ({platform.machine()}, {torch.get_num_threads()} threads)"
    return {"amccl_version": amccl.__version__, "python_version": platform.python_version(),
            "torch_version": str(torch.__version__), "transformers_version": transformers.__version__,
            "numpy_version": np.__version__, "platform": platform.platform(), "device": described}


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (every device); cuDNN deterministic (docs/model.md §4)."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False


def rng_state() -> dict[str, Any]:
    """Every global RNG state a run draws from (docs/model.md §8), ``weights_only``-safe."""
    version, mt, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {"python": [version, list(mt), gauss],
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "torch": torch.get_rng_state(), "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what :func:`rng_state` captured (the CUDA part only where CUDA is present)."""
    version, mt, gauss = state["python"]
    random.setstate((version, tuple(mt), gauss))
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def preserved_rng():
    """Run a block (a user's callback) without changing any global RNG state."""
    state = rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


# Progress, three ways: a tqdm bar where one can be drawn (a terminal, a notebook), one plain
# log line per epoch / grid run / trial where it cannot (a file, a pipe, CI), or nothing.
class _TqdmHandler(logging.StreamHandler):
    """Writes through ``tqdm.write`` (lines do not break open bars), without a stream to the current stderr."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            from tqdm import tqdm as _tqdm

            _tqdm.write(self.format(record), file=self.stream or sys.stderr)
        except Exception:  # pragma: no cover - logging must never raise
            self.handleError(record)


def get_logger(level: int | None = None) -> logging.Logger:
    """The package logger ``amccl``: one handler, no propagation (no line twice); ``level`` sets its level."""
    logger = logging.getLogger("amccl")
    if not any(getattr(h, "_amccl", False) for h in logger.handlers):
        handler = _TqdmHandler(sys.stderr)
        handler.stream = None  # the current sys.stderr at each line (see _TqdmHandler)
        handler._amccl = True  # type: ignore[attr-defined]
        handler.setFormatter(logging.Formatter("%(asctime)s amccl %(levelname)s %(message)s", "%H:%M:%S"))
        logger.addHandler(handler)
        logger.propagate = False
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.INFO)
    if level is not None:
        logger.setLevel(level)
    return logger


def can_draw_bars(stream: Any = None) -> bool:
    """Whether a bar can be drawn on ``stream`` (default stderr): a Jupyter kernel or a terminal."""
    ipython = sys.modules.get("IPython")
    if ipython is not None and "ipykernel" in sys.modules:
        with contextlib.suppress(Exception):  # an odd IPython: no widget
            if hasattr(ipython.get_ipython(), "kernel"):
                return True
    stream = sys.stderr if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


def progress_enabled(progress: bool) -> bool:
    """Progress bars: when asked for, never under CI (``CI`` set), where :func:`can_draw_bars`."""
    return bool(progress) and not os.environ.get("CI") and can_draw_bars()


def progress_lines(progress: bool) -> bool:
    """Progress asked for but no bar possible: a plain log line per epoch, grid run or trial."""
    return bool(progress) and not progress_enabled(progress)


@contextlib.contextmanager
def no_transformers_bars():
    """Hide transformers' own progress bars ("Loading weights") inside the block."""
    from transformers.utils import logging as hf_logging

    was = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was:
            hf_logging.enable_progress_bar()


def progress_bar(*args: Any, **kwargs: Any):
    """A tqdm bar (Jupyter's widget with ipywidgets), also disabled where :func:`can_draw_bars` says no."""
    kwargs["disable"] = bool(kwargs.get("disable", False)) or not can_draw_bars(kwargs.get("file"))
    try:
        import ipywidgets  # noqa: F401
        from tqdm.auto import tqdm
    except ImportError:
        from tqdm.std import tqdm
    return tqdm(*args, **kwargs)
