"""``load_data(cfg)``: the one entry to data, real MMSA files or the embedded default."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from amccl.config import SHAPE_SYMBOLS
from amccl.data.mmsa import load_mmsa
from amccl.data.shapes import probe_shapes
from amccl.data.synthetic import RECIPE_VERSION, write_synthetic
from amccl.data.types import DataError, MMSAData, Shapes, UnsafePickleError

AUTO_CACHE_BYTES = 512 << 20  # real files at least this big get the .npy cache by default


def config_shapes(cfg: Any) -> Shapes:
    """(Lt, La, Lv, Da, Dv) of a config."""
    return (cfg.text_len, cfg.audio_len, cfg.vision_len, cfg.audio_dim, cfg.vision_dim)


def cache_root() -> Path:
    """Where generated data lives: ``$AMCCL_DATA_CACHE``, ``<checkout>/data/cache``, or a temp dir."""
    env = os.environ.get("AMCCL_DATA_CACHE")
    if env:
        return Path(env).expanduser()
    checkout = Path(__file__).resolve().parents[2]
    if (checkout / "pyproject.toml").is_file() and (checkout / "amccl").is_dir():
        candidate = checkout / "data" / "cache"
        try:
            candidate.mkdir(parents=True, exist_ok=True)
            if os.access(candidate, os.W_OK):
                return candidate
        except OSError:
            pass
    return Path(tempfile.gettempdir()) / f"amccl-data-cache-{os.getuid() if hasattr(os, 'getuid') else 0}"


def synthetic_path(cfg: Any, tokenizer: Any) -> Path:
    """The file of ``cfg``'s synthetic default, named by everything that shapes its bytes."""
    vocab = sorted(tokenizer.get_vocab().items())
    tok = f"{type(tokenizer).__name__}|{getattr(tokenizer, 'do_lower_case', None)}|{vocab}"
    sizes = "-".join(str(int(n)) for n in cfg.synthetic_sizes)
    shapes = "x".join(str(s) for s in config_shapes(cfg))
    name = (f"synthetic_{cfg.dataset}_n{sizes}_s{shapes}_seed{cfg.synthetic_seed}"
            f"_tok{hashlib.sha256(tok.encode()).hexdigest()[:8]}_r{RECIPE_VERSION}.pkl")
    return cache_root() / name


def load_data(cfg: Any, cache: bool | str = "auto") -> MMSAData:
    """The three splits ``cfg`` asks for (docs/model.md §1), SHA-256 computed and identified.

    Args:
        cfg: an :class:`~amccl.config.AMCCLConfig`. ``data_path`` None: the embedded synthetic
            default (``synthetic_sizes``, ``synthetic_seed``, ``text_encoder``'s tokenizer);
            else that MMSA pickle, checked against ``data_sha256`` when set and against the
            file's own shapes (``shapes="file"``) or the config's. Call
            :func:`~amccl.data.checks.check_data_for_config` before training a variant that reads lengths.
        cache: ``.npy`` cache of a real file; ``"auto"`` caches files of 512 MiB or more.
    """
    shapes = config_shapes(cfg)
    if cfg.data_path is None:  # generated once, then read back by the real loader
        from amccl.bert import load_tokenizer

        tokenizer = load_tokenizer(cfg.text_encoder)
        path = synthetic_path(cfg, tokenizer)
        if not path.is_file():
            write_synthetic(path, cfg.dataset, tuple(cfg.synthetic_sizes), cfg.synthetic_seed, tokenizer, shapes)
        data = load_mmsa(path, cfg.dataset, shapes=shapes, compute_hash=True)
        data.source = "synthetic"
        return data
    path = Path(cfg.data_path).expanduser()
    found = probe_shapes(path) if cfg.shapes == "file" and path.is_file() else None
    if found is not None:
        shapes = config_shapes(cfg.with_file_shapes(found))  # what a config from for_dataset would hold
    if cache == "auto":
        cache = path.is_file() and path.stat().st_size >= AUTO_CACHE_BYTES
    try:
        return load_mmsa(path, cfg.dataset, shapes=shapes, sha256=cfg.data_sha256, compute_hash=True,
                         cache=bool(cache))
    except DataError as err:
        hint = strict_shapes_hint(cfg, path) if not isinstance(err, UnsafePickleError) else ""
        if hint:
            raise DataError([*err.problems, hint]) from err
        raise


def strict_shapes_hint(cfg: Any, path: Path) -> str:
    """For a ``shapes="paper"`` config refused ``path``: the file's own shapes and how to use them (else "")."""
    if cfg.shapes != "paper" or not path.is_file():
        return ""
    found = probe_shapes(path)
    if found is None or found == config_shapes(cfg):
        return ""
    symbols = ", ".join(f"{sym}={value}" for sym, value in zip(SHAPE_SYMBOLS, found))
    return (f"{cfg.data_path}: the file's own shapes are ({symbols}), not MMSA's {cfg.dataset} shapes "
            f"{config_shapes(cfg)}; to train on them, drop --strict-shapes (shapes='file', the default): "
            f"they are then taken from the file and every result says so")
