"""Predictions for new clips: ``python -m amccl predict --checkpoint best.pt --data clips.pkl``.

The clips are an MMSA-format pickle read by :func:`amccl.data.load_clips` (labels optional, any
splits, or a flat dict of one split named ``clips``) at the checkpoint's shapes; other shapes,
or token ids beyond the checkpoint's vocabulary, get a :class:`~amccl.data.types.DataError`.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from amccl.bert import token_id_overflows
from amccl.data import DataError, MMSAClips, check_data_for_config, load_clips
from amccl.data.default import config_shapes
from amccl.evaluation import make_loader, run_split
from amccl.metrics import acc7_bins, polarity

COLUMNS = ("split", "id", "score", "polarity", "acc7_bin")


def check_vocabulary(clips: MMSAClips, vocab_size: int) -> None:
    """Refuse token ids at or beyond the text encoder's ``vocab_size``: one line per split."""
    problems = [f"{clips.path}: split '{name}', key 'text_bert': expected token ids < {vocab_size} "
                f"(the checkpoint's text encoder vocabulary), found {top} at row {row}; tokenise the "
                "transcripts with that encoder's tokenizer"
                for name, top, row in token_id_overflows(clips, vocab_size)]
    if problems:
        raise DataError(problems)


def score_split(model: torch.nn.Module, split, cfg, device: torch.device) -> np.ndarray:
    """The model's (N,) float32 scores of a split, in row order (labels not read)."""
    if len(split) == 0:
        return np.zeros(0, np.float32)
    outputs, _ = run_split(model, make_loader(split, cfg, shuffle=False), device=device, amp=cfg.amp)
    return outputs["M"].reshape(-1).cpu().numpy()


def predictions_table(clips: MMSAClips, scores: dict[str, np.ndarray]) -> pd.DataFrame:
    """``predictions.csv``: one row per clip in file order, ``split``, ``id``, ``score`` (the model's
    output), ``polarity`` (``negative`` / ``neutral`` / ``positive``: MMSA's sign convention on MOSI /
    MOSEI, ``Mult_acc_3``'s bins on SIMS), ``acc7_bin`` (-3..3: ``np.round(np.clip(score, -3, 3))``)
    and, when the file has labels, ``label`` (NaN where it has none; never used for the scores)."""
    frames = []
    for name, split in clips.items():
        score = scores[name].astype(np.float64)
        frames.append(pd.DataFrame({
            "split": name, "id": [str(i) for i in split.ids], "score": score,
            "polarity": polarity(score, clips.dataset), "acc7_bin": acc7_bins(score),
            "label": np.asarray(split.labels, dtype=np.float64)}))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=[*COLUMNS, "label"])
    return table if table["label"].notna().any() else table.drop(columns="label")


def predict(checkpoint: str | os.PathLike, data_path: str | os.PathLike, split: str | None = None,
            out_dir: str | os.PathLike | None = None, device: str | None = None) -> pd.DataFrame:
    """Score the clips of an MMSA-format pickle with a trained model.

    Args:
        checkpoint: our ``best.pt`` / ``last.pt`` (its config gives the shapes and dataset).
        data_path: the pickle of clips (labels optional).
        split: predict only this split of the file (default: every split present).
        out_dir: also write ``<out_dir>/predictions.csv``.
        device: ``auto``, ``cpu``, ``cuda`` ... (default: the checkpoint config's).

    Returns:
        :func:`predictions_table` of the clips.

    Raises:
        DataError: the file is unreadable, lacks a key or split, or does not fit the
            checkpoint's shapes or vocabulary (file, split, key and expected shape named).
        FileNotFoundError: no checkpoint there. ValueError: a bare state dict (no config).
    """
    from amccl.checkpoint import load_model
    from amccl.runtime import resolve_device

    model, cfg, _ = load_model(checkpoint, device="cpu")
    target = resolve_device(device if device is not None else cfg.device)
    model = model.to(target)
    clips = load_clips(data_path, cfg.dataset, shapes=config_shapes(cfg), split=split)
    check_data_for_config(clips, cfg)
    check_vocabulary(clips, model.text_model.model.config.vocab_size)
    table = predictions_table(clips, {name: score_split(model, s, cfg, target) for name, s in clips.items()})
    if out_dir is not None:
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        table.to_csv(Path(out_dir) / "predictions.csv", index=False)
    return table


def add_predict_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``predict`` sub-command to an ``argparse`` sub-parsers object and return it."""
    p = subparsers.add_parser(
        "predict", help="score new clips (an MMSA-format pickle, labels optional) with a checkpoint",
        description="Predict the sentiment of your own clips: an MMSA-format pickle with the keys "
                    "text_bert, audio, vision, audio_lengths, vision_lengths, raw_text and id (regression_labels "
                    "optional), as {split: {key: array}} or a flat {key: array} dict (split 'clips'), at the "
                    "checkpoint's shapes. Writes predictions.csv (split, id, score, polarity, acc7_bin[, label]). "
                    "Runtime: about 10 s for the embedded default's 240 test clips on 2 CPU cores (MiniLM).")
    p.add_argument("--checkpoint", metavar="PATH", required=True, help="our best.pt / last.pt")
    p.add_argument("--data", metavar="FILE", required=True, help="the MMSA-format pickle of the clips")
    p.add_argument("--split", metavar="NAME", default=None, help="predict only this split (default: every split)")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="output directory (default: <checkpoint dir>/predict-<data file stem>)")
    p.add_argument("--device", metavar="DEVICE", default=None,
                   help="auto, cpu, cuda, cuda:N or mps (default: the checkpoint config's, auto)")
    p.set_defaults(func=run_predict)
    return p


def run_predict(args: argparse.Namespace) -> int:
    """``python -m amccl predict``: write predictions.csv and print a one-line summary per split."""
    from amccl.cli_options import existing_file

    checkpoint, data = existing_file("--checkpoint", args.checkpoint), existing_file("--data", args.data)
    out = Path(args.out) if args.out else checkpoint.parent / f"predict-{data.stem}"
    table = predict(checkpoint, data, split=args.split, out_dir=out, device=args.device)
    for name, rows in table.groupby("split", sort=False):
        counts = rows["polarity"].value_counts()
        print(f"{name}: {len(rows)} clips, mean score {rows['score'].mean():.3f}; "
              + ", ".join(f"{p} {int(counts.get(p, 0))}" for p in ("negative", "neutral", "positive")))
    print(f"predictions: {out / 'predictions.csv'}")
    return 0
