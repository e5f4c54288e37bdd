"""What every ``python -m amccl`` command shares: :func:`config_options` adds the config
options to its parser, :func:`config_from_args` builds the config, and :class:`CLIError` is a
usage problem that :func:`amccl.cli.main` prints as one ``amccl <command>: error: ...`` line.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amccl.config import DATASETS, PROFILES, AMCCLConfig, default_profile


class CLIError(Exception):
    """A usage problem found after parsing (a bad --set value, a missing file)."""


def config_options(p: argparse.ArgumentParser, default: str | None = None, required: bool = True,
                   profile: bool = True) -> None:
    """Add --dataset, --profile and --strict-shapes (with ``profile``), --data, --set and --device."""
    p.add_argument("--dataset", choices=DATASETS, required=required and default is None, default=default,
                   type=str.lower, help="dataset (its paper hyper-parameters and shapes)" + (
                       "" if required or default else "; required for state dicts, checked against our checkpoints"))
    if profile:
        p.add_argument("--profile", choices=PROFILES, default=None,
                       help="smoke (seconds), demo (minutes on CPU; both with the embedded MiniLM) or paper (the "
                            "paper's epochs and its bert-base-uncased / bert-base-chinese: --set text_encoder=DIR "
                            "or AMCCL_BERT_EN / AMCCL_BERT_ZH). Default: paper with --data, else the smoke "
                            "switch (AMCCL_PROFILE; smoke under CI; else demo)")
    p.add_argument("--data", metavar="PATH", default=None,
                   help="an MMSA processed pickle (e.g. MOSI/Processed/unaligned_50.pkl); "
                        "omitted: the embedded synthetic default")
    if profile:  # evaluate takes the shapes from the checkpoint
        p.add_argument("--strict-shapes", action="store_true",
                       help="refuse a --data file whose shapes (Lt, La, Lv, Da, Dv) are not the dataset's MMSA "
                            "shapes (shapes=paper). Default: take them from the file (and head counts that divide "
                            "its widths); every result then says 'shapes from the file (...): not the paper's'")
    p.add_argument("--set", metavar="KEY=VALUE", nargs="+", default=[], dest="overrides",
                   help="config overrides (any AMCCLConfig field), e.g. --set gamma=0 se=false epochs=20 "
                        "freeze_text=true amp=bf16 text_encoder=/path/to/bert-base-uncased")
    p.add_argument("--device", default=None, metavar="DEVICE",
                   help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N or mps (default: the config's, auto)")


def config_from_args(args: argparse.Namespace, base: AMCCLConfig | None = None) -> AMCCLConfig:
    """The config the options of :func:`config_options` ask for, on top of ``base`` (default:
    ``--dataset``'s paper values shrunk by ``--profile``: paper with --data, else the smoke switch).

    Raises:
        CLIError: a bad --set value, a missing --data file or an unknown --device.
    """
    from amccl.runtime import resolve_device

    try:
        shapes = "paper" if getattr(args, "strict_shapes", False) else _set_value(args.overrides, "shapes", "file")
        cfg = base if base is not None else AMCCLConfig.for_dataset(  # data_path: the file's shapes
            args.dataset, profile=args.profile or ("paper" if args.data else default_profile()), data_path=args.data,
            shapes=shapes)
        if args.data is not None:
            cfg = cfg.replace(data_path=args.data)
        cfg = cfg.override(*args.overrides)
        if args.device is not None:
            cfg = cfg.replace(device=args.device)
        if cfg.data_path is not None:
            existing_file("--data", cfg.data_path)
        resolve_device(cfg.device)
    except (KeyError, TypeError, ValueError) as err:
        raise CLIError(error_message(err)) from err
    return cfg


def _set_value(assignments: list[str], key: str, default: str) -> str:
    """The last ``key=value`` of ``--set`` for ``key`` (it must reach ``for_dataset`` itself), else ``default``."""
    values = [item.split("=", 1)[1].strip() for item in assignments if item.split("=", 1)[0].strip() == key]
    return values[-1] if values else default


def existing_file(flag: str, path: str | Path) -> Path:
    """``path`` as a Path; :class:`CLIError` ``"<flag> <path>: no such file"`` unless it is a file."""
    if not Path(path).is_file():
        raise CLIError(f"{flag} {path}: no such file")
    return Path(path)


def error_message(err: BaseException) -> str:
    """An error's one-line text (a ``KeyError``'s message without the quotes ``str`` adds)."""
    return str(err.args[0]) if isinstance(err, KeyError) and err.args else str(err)
