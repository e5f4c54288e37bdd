"""Tables and verdicts describing a loaded dataset (notebook 01)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from amccl.data.types import MMSAData, MMSASplit

if TYPE_CHECKING:
    import pandas as pd


def describe(data: MMSAData) -> pd.DataFrame:
    """Per split: clips, label statistics and signs, mean tokens, lengths, padding fractions
    (share of padded frames) and what cleaning did (``cleaned_*`` counts)."""
    import pandas as pd

    rows = {}
    for name, split in data.items():
        labels = np.asarray(split.labels, dtype=np.float64)
        la, lv = split.audio.shape[1], split.vision.shape[1]
        rows[name] = {
            "clips": len(split),
            "label_mean": float(labels.mean()), "label_std": float(labels.std()),
            "label_min": float(labels.min()), "label_max": float(labels.max()),
            "zero_labels": float(np.mean(labels == 0)), "positive": float(np.mean(labels > 0)),
            "negative": float(np.mean(labels < 0)),
            "text_tokens_mean": float(np.asarray(split.text[:, 1]).sum(axis=1).mean()),
            "audio_length_mean": float(split.audio_lengths.mean()),
            "audio_padding": float(1.0 - split.audio_lengths.mean() / la),
            "vision_length_mean": float(split.vision_lengths.mean()),
            "vision_padding": float(1.0 - split.vision_lengths.mean() / lv),
            **{f"cleaned_{key}": int(n) for key, n in split.cleaned.items()},
        }
    frame = pd.DataFrame(rows).T.rename_axis("split")
    return frame.astype({c: int for c in frame.columns if c == "clips" or c.startswith("cleaned_")})


def label_counts(data: MMSAData) -> pd.DataFrame:
    """Clips per distinct label value (rows) and split (columns)."""
    import pandas as pd

    counts = {name: pd.Series(np.round(split.labels, 4)).value_counts() for name, split in data.items()}
    return pd.DataFrame(counts).fillna(0).astype(int).sort_index()


def valid_frames(features: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """All valid (non-padding) frames of a split stacked: features (N, L, D), lengths (N,)
    -> (sum of lengths, D)."""
    mask = np.arange(features.shape[1])[None, :] < np.asarray(lengths)[:, None]
    return np.asarray(features)[mask]


def feature_stats(split: MMSASplit, modality: str) -> pd.DataFrame:
    """Per-feature mean, std, min, max and count of exact zeros of ``audio`` or ``vision``
    over the valid frames of a split (float64 sums); one row per feature (D rows)."""
    import pandas as pd

    if modality not in ("audio", "vision"):
        raise ValueError(f"modality must be 'audio' or 'vision', got {modality!r}")
    frames = valid_frames(getattr(split, modality), getattr(split, f"{modality}_lengths")).astype(np.float64)
    return pd.DataFrame({"mean": frames.mean(0), "std": frames.std(0), "min": frames.min(0), "max": frames.max(0),
                         "exact zeros": (frames == 0).sum(0)}).rename_axis(f"{modality} feature")


CENTRED_MEAN = 1.0  # feature_verdict: every |mean| at most this ...
UNIT_STD = (0.2, 5.0)  # ... and every std in this range: "roughly centred with unit-scale spread"


def truncation_verdict(data: MMSAData, tokenizer: Any = None) -> str:
    """Whether transcripts fill all Lt token slots and may be cut (``tokenizer``: count the real cuts)."""
    lt = data.shapes[0]
    full = {name: np.flatnonzero(np.asarray(split.text[:, 1]).sum(axis=1) >= lt) for name, split in data.items()}
    n_full = sum(len(rows) for rows in full.values())
    if n_full == 0:
        return f"No transcript reaches Lt = {lt} tokens, so truncation never cuts text here."
    head = f"{n_full} transcript{'s fill' if n_full > 1 else ' fills'} all Lt = {lt} token slots"
    if tokenizer is None:
        return f"{head}: they may be truncated."
    cut = sum(int(len(tokenizer(str(data.split(name).raw_text[i]))["input_ids"]) > lt)
              for name, rows in full.items() for i in rows)
    if cut == 0:
        return f"{head}, and none is longer: truncation cuts no text here."
    return f"{head}; {cut} of them lost tokens to truncation."


def feature_verdict(stats: dict[str, pd.DataFrame], cleaned_total: int) -> str:
    """One sentence: whether the features need normalising ("roughly centred with unit-scale
    spread": every |mean| <= :data:`CENTRED_MEAN`, every std in :data:`UNIT_STD`), with the ranges.

    Args:
        stats: modality -> its :func:`feature_stats` frame (columns ``mean`` and ``std``, D rows).
        cleaned_total: non-finite values set to 0 at load time, all splits together.
    """
    ok = {m: bool((s["mean"].abs() <= CENTRED_MEAN).all() and s["std"].between(*UNIT_STD).all())
          for m, s in stats.items()}
    ranges = "; ".join(f"{m}: means {s['mean'].min():.2f} to {s['mean'].max():.2f}, "
                       f"stds {s['std'].min():.2f} to {s['std'].max():.2f}" for m, s in stats.items())
    head = f"features are finite after loading ({cleaned_total} non-finite value(s) set to 0 over all splits); "
    if all(ok.values()):
        return f"{head}they are roughly centred with unit-scale spread ({ranges}), so no extra normalisation is applied."
    off = " and ".join(m for m, good in ok.items() if not good)
    return (f"{head}{off} {'is' if ' and ' not in off else 'are'} not roughly centred with unit-scale spread "
            f"(|mean| <= {CENTRED_MEAN:g}, std in [{UNIT_STD[0]:g}, {UNIT_STD[1]:g}]; {ranges}): "
            "the loader applies no normalisation.")
