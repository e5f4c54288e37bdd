"""Named search spaces of ``python -m amccl tune --space NAME`` (:data:`SPACES`): config fields
mapped to optuna distributions. Every range holds each dataset's paper value (docs/model.md §4;
:meth:`SearchSpace.outside` lists any that is not)."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
from optuna.distributions import BaseDistribution, CategoricalDistribution, FloatDistribution, IntDistribution

from amccl.config import DATASETS, AMCCLConfig


@dataclass(frozen=True)
class SearchSpace:
    """A named set of config fields and the optuna distribution each is drawn from."""

    name: str
    doc: str
    params: Mapping[str, BaseDistribution]

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Draw every field from ``trial`` (an ``optuna.Trial``); returns ``{field: value}``."""
        out: dict[str, Any] = {}
        for key, dist in self.params.items():
            if isinstance(dist, FloatDistribution):
                out[key] = trial.suggest_float(key, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, IntDistribution):
                out[key] = trial.suggest_int(key, dist.low, dist.high, log=dist.log, step=dist.step)
            elif isinstance(dist, CategoricalDistribution):
                out[key] = trial.suggest_categorical(key, dist.choices)
            else:
                raise TypeError(f"space {self.name!r}: unsupported distribution for {key}: {dist!r}")
        return out

    def for_config(self, cfg: AMCCLConfig) -> SearchSpace:
        """This space without the choices ``cfg``'s shapes cannot build (:data:`CHOICE_FITS`,
        e.g. r > Da for MOSI's 5 audio features); the paper's values always stay."""
        params = dict(self.params)
        for key, fits in CHOICE_FITS.items():
            dist = params.get(key)
            if isinstance(dist, CategoricalDistribution):
                params[key] = CategoricalDistribution(tuple(c for c in dist.choices if fits(cfg, c)))
        return SearchSpace(self.name, self.doc, params)

    def outside(self, values: Mapping[str, Any]) -> list[str]:
        """``"field=value"`` for every value of ``values`` (e.g. a config's) the space cannot draw."""
        return [f"{key}={values[key]!r}" for key, dist in self.params.items()
                if key in values and not _contains(dist, values[key])]

    def table(self) -> pd.DataFrame:
        """One row per field: ``field``, ``range`` and the paper's value for each dataset."""
        paper = {d: AMCCLConfig.for_dataset(d) for d in DATASETS}
        return pd.DataFrame([{"field": key, "range": describe(dist), **{d: getattr(c, key) for d, c in paper.items()}}
                             for key, dist in self.params.items()])


def _contains(dist: BaseDistribution, value: Any) -> bool:
    if isinstance(dist, CategoricalDistribution):
        return value in dist.choices
    if isinstance(dist, (FloatDistribution, IntDistribution)):
        return dist.low <= value <= dist.high
    raise TypeError(f"unsupported distribution {dist!r}")


def describe(dist: BaseDistribution) -> str:
    """A short human form: ``[1e-05, 0.0001] log``, ``{0.0, 0.001, 0.01}``."""
    if isinstance(dist, CategoricalDistribution):
        return "{" + ", ".join(map(str, dist.choices)) + "}"
    kind = " log" if dist.log else (f" step {dist.step}" if dist.step else "")
    return f"[{dist.low:g}, {dist.high:g}]{kind}"


_log = functools.partial(FloatDistribution, log=True)
# The categorical choices a config's shapes can build: r <= min(Da, Dv) (MOSI's Da = 5 takes r <= 5).
CHOICE_FITS: dict[str, Callable[[AMCCLConfig, Any], bool]] = {
    "skip_net_reduction": lambda cfg, r: r <= min(cfg.audio_dim, cfg.vision_dim),
}
_DECAYS = CategoricalDistribution((0.0, 0.001, 0.01))
_CONTRASTIVE = {
    "gamma": _log(1e-3, 0.1),  # paper 0.01 / 0.005 / 0.0025
    "k": FloatDistribution(0.1, 0.9),  # 0.5
    "temperature": _log(0.01, 0.3),  # 0.03
    "alpha": FloatDistribution(0.1, 1.0),  # 0.8 / 0.4
    "lambda_refine": FloatDistribution(1.0, 8.0),  # 4 / 3
}

SPACES: dict[str, SearchSpace] = {
    "paper": SearchSpace("paper", "the hyper-parameters the paper set per dataset (lr, wd, dropout, sizes, losses)", {
        "lr_bert": _log(1e-5, 1e-4),
        "lr_audio": _log(1e-4, 5e-3), "lr_video": _log(1e-4, 5e-3), "lr_other": _log(1e-4, 5e-3),
        "wd_bert": _DECAYS, "wd_audio": _DECAYS, "wd_video": _DECAYS, "wd_other": _DECAYS,
        "dropout_fusion": FloatDistribution(0.0, 0.5), "dropout_unimodal": FloatDistribution(0.0, 0.5),
        "batch_size": CategoricalDistribution((32, 64, 128)), "skip_net_reduction": CategoricalDistribution((2, 4, 8)),
        "post_dim": CategoricalDistribution((32, 64, 128, 256)),  # d >= se_reduction (16)
        "post_fusion_dim": CategoricalDistribution((64, 128, 256, 512)),
        "gamma": _CONTRASTIVE["gamma"], "inter_weight": FloatDistribution(0.1, 1.0),
        "lambda_refine": _CONTRASTIVE["lambda_refine"], "alpha": _CONTRASTIVE["alpha"],
    }),
    "contrastive": SearchSpace("contrastive", "the contrastive and refinement terms only (gamma, k, T, alpha, "
                               "lambda_refine)", _CONTRASTIVE),
}
DEFAULT_SPACE = "paper"


def get_space(name: str, cfg: AMCCLConfig | None = None) -> SearchSpace:
    """The space called ``name`` (narrowed to what ``cfg`` can build: :meth:`SearchSpace.for_config`);
    ``KeyError`` (one line, the choices) for an unknown name."""
    if name not in SPACES:
        raise KeyError(f"unknown search space {name!r}; expected one of {', '.join(SPACES)}")
    return SPACES[name] if cfg is None else SPACES[name].for_config(cfg)
