"""Named variants and modality ablations (docs/model.md §6, §7), each a config override, defined only here.

A variant changes the config fields it names and nothing else; ``apply_variant(cfg, "no_se+no_refine")``
combines two, and two that set one field differently (``kernel_1+kernel_3``) raise ``ValueError``. Sections:
``§6`` (:data:`PAPER_VARIANTS`), ``§7`` (:data:`CLEAN_VARIANTS`) and ``modality`` (:data:`MODALITY_VARIANTS`).
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from amccl.config import AMCCLConfig

BASELINE = "full"
SEPARATOR = "+"


@dataclass(frozen=True)
class Variant:
    """One named variant: the config fields it overrides and what it tests."""

    name: str
    overrides: Mapping[str, Any]
    description: str
    section: str = "§6"  # the table label: docs/model.md §6 (paper ablations), §7 (cleaner variants) or "modality"


# name -> Variant. Order = display order of tables and figures.
VARIANTS: dict[str, Variant] = {v.name: v for v in (
    Variant("full", {}, "the paper's AMCCL (every default of the config)"),
    Variant("no_se", {"se": False}, "AMC without its SE block"),
    Variant("kernel_1", {"kernels": (1,)}, "AMC with a single kernel-1 branch (d channels)"),
    Variant("kernel_3", {"kernels": (3,)}, "AMC with a single kernel-3 branch (d channels)"),
    Variant("kernel_5", {"kernels": (5,)}, "AMC with a single kernel-5 branch (d channels)"),
    Variant("fixed_kernel_weights", {"adaptive_kernel_weights": False},
       "AMC branches weighted 1/3 each instead of the per-sample softmax"),
    Variant("concat_fusion", {"fusion": "concat"}, "AMC replaced by concatenation [h_t, h_a, h_v] (3d)"),
    Variant("no_cl", {"gamma": 0.0}, "no contrastive loss: L1 only (gamma = 0)"),
    Variant("no_refine", {"lambda_refine": 0.0}, "contrastive loss without the refine term (lambda_refine = 0)"),
    Variant("no_margin", {"use_margin": False}, "contrastive loss without the margin term"),
    Variant("no_inter", {"inter_weight": 0.0}, "contrastive loss without the inter-modal terms (inter_weight = 0)"),
    Variant("no_intra", {"intra_weight": 0.0}, "contrastive loss without the intra-modal terms (intra_weight = 0)"),
    Variant("polarity_only", {"positives": "polarity"},
       "binary positive pairs by polarity only, instead of polarity + intensity weights"),
    Variant("padding_mask", {"padding_mask": True}, "key-padding mask in the audio/vision transformers", "§7"),
    Variant("last_valid_step", {"last_valid_step": True},
       "h_a, h_v from the last valid time step instead of index -1", "§7"),
    Variant("masked_means", {"masked_means": True},
       "skip-gate means over valid steps only (text mask, audio/vision lengths)", "§7"),
    Variant("positives_mean", {"contrastive_mean": "positives"},
       "contrastive term averaged over positive pairs only", "§7"),
    Variant("text_only", {"modalities": ("text",)},
       "text alone: audio/vision encoders do not run, zeros for their h, g; loss: intra (t,t) only", "modality"),
    Variant("audio_only", {"modalities": ("audio",)},
       "audio alone: text/vision encoders do not run, zeros for their h, g; loss: intra (a,a) only", "modality"),
    Variant("vision_only", {"modalities": ("vision",)},
       "vision alone: text/audio encoders do not run, zeros for their h, g; loss: intra (v,v) only", "modality"),
    Variant("no_text", {"modalities": ("audio", "vision")},
       "without text: the BERT does not run, zeros for h_t, g_t; loss: inter (v,a), intra (v,v), (a,a)", "modality"),
    Variant("no_audio", {"modalities": ("text", "vision")},
       "without audio: its encoder does not run, zeros for h_a, g_a; loss: inter (v,t), intra (v,v), (t,t)",
       "modality"),
    Variant("no_vision", {"modalities": ("text", "audio")},
       "without vision: its encoder does not run, zeros for h_v, g_v; loss: inter (t,a), intra (a,a), (t,t)",
       "modality"),
)}

PAPER_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.section == "§6")
CLEAN_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.section == "§7")
MODALITY_VARIANTS: tuple[str, ...] = tuple(n for n, v in VARIANTS.items() if v.section == "modality")


def split_variant(spec: str) -> list[str]:
    """The registered names in ``spec`` (``"no_se+no_refine"`` -> ``["no_se", "no_refine"]``);
    ValueError for an empty spec or an unknown name (with close matches)."""
    if not isinstance(spec, str):
        raise TypeError(f"a variant is a string such as 'no_se+no_refine', got {spec!r}")
    names = [part.strip() for part in spec.split(SEPARATOR)]
    if not spec.strip() or any(not n for n in names):
        raise ValueError(f"malformed variant {spec!r}; expected names joined by '+', e.g. 'no_se+no_refine'")
    for name in names:
        if name not in VARIANTS:
            close = difflib.get_close_matches(name, list(VARIANTS), n=3, cutoff=0.5)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ValueError(f"unknown variant {name!r}{hint}; known variants: {', '.join(VARIANTS)}")
    return names


def variant_overrides(spec: str) -> dict[str, Any]:
    """The merged config overrides of ``spec``; ValueError for unknown names or two parts that
    set one field differently."""
    merged: dict[str, Any] = {}
    source: dict[str, str] = {}
    for name in split_variant(spec):
        for key, value in VARIANTS[name].overrides.items():
            if key in merged and merged[key] != value:
                raise ValueError(
                    f"variant {spec!r}: {source[key]!r} sets {key}={merged[key]!r} but "
                    f"{name!r} sets {key}={value!r}; these variants cannot be combined"
                )
            merged[key], source[key] = value, name
    return merged


def canonical_name(spec: str) -> str:
    """``spec`` with whitespace removed and ``full`` parts dropped (``"full+no_se"`` -> ``no_se``)."""
    names = [n for n in split_variant(spec) if n != BASELINE]
    unique = list(dict.fromkeys(names))
    return SEPARATOR.join(unique) if unique else BASELINE


def apply_variant(cfg: AMCCLConfig, spec: str) -> AMCCLConfig:
    """A copy of ``cfg`` (normally the paper's, the ``full`` model) with variant ``spec`` (a name or
    names joined by ``+``) applied, validated by :meth:`AMCCLConfig.replace`; ``cfg`` is unchanged."""
    return cfg.replace(**variant_overrides(spec))


def variants_table(names: list[str] | tuple[str, ...] | None = None):
    """The registry as a ``pandas.DataFrame``: variant, section, overrides, description; ``names`` may
    hold combinations (overrides merged, descriptions joined)."""
    import pandas as pd

    rows = []
    for spec in names if names is not None else list(VARIANTS):
        parts, overrides = split_variant(spec), variant_overrides(spec)
        rows.append({
            "variant": spec,
            "section": ", ".join(dict.fromkeys(VARIANTS[p].section for p in parts)),
            "overrides": ", ".join(f"{k}={','.join(map(str, v)) if isinstance(v, tuple) else v}"
                                   for k, v in overrides.items()) or "(none)",
            "description": "; ".join(VARIANTS[p].description for p in parts),
        })
    return pd.DataFrame(rows, columns=["variant", "section", "overrides", "description"])
