"""The embedded default dataset: deterministic, learnable MMSA-format data in any dataset's shapes.

Per clip (the recipe: ``data/README.md`` §2): a sentence whose words give a text score s_t;
audio / vision scores correlated with it, planted in the valid frames; the label a noisy mix of
the three, on the dataset's grid. Same arguments, same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from amccl.config import DATASET_SHAPES, DATASETS, MINILM
from amccl.data.pickles import Lazy, write_mmsa_pickle
from amccl.data.types import SPLITS, MMSAData, Shapes

RECIPE_VERSION = 2  # bump on any change of the recipe: cached files are keyed by it
MIX = (0.5, 0.3, 0.2)  # label weights of (s_t, s_a, s_v)
NOISE_STD = 0.15  # label noise, in [-3, 3] units
CROSS_MODAL = 0.5  # s_a, s_v = clip(CROSS_MODAL * s_t + N(0, OWN_STD^2))
OWN_STD = 1.2
NEUTRAL_FRACTION = 0.08
NEGATED_FRACTION = 0.25
SIGNAL_AMPLITUDE = 2.0  # planted feature = SIGNAL_AMPLITUDE * s / 3 along a unit direction
OFFSET_STD = 0.5  # per-clip nuisance offset, orthogonal to the signal direction
FULL_LENGTH_FRACTION = 0.25  # clips whose audio / vision fill the whole L
NEG_INF_FRACTION = 0.03  # clips with one to three -inf audio values
TEXT_FEATURE_DIM = 768  # the MMSA "text" features (unused by AMCCL)
GRID = {"mosi": 0.2, "mosei": 1 / 3, "sims": 0.2, "simsv2": 0.2}  # label quantisation step

ADJECTIVES = {
    "excellent": 2.5, "wonderful": 2.5, "great": 2.0, "good": 1.5, "nice": 1.0, "decent": 0.5,
    "fine": 0.5, "dull": -1.0, "weak": -1.0, "poor": -1.5, "bad": -1.5, "awful": -2.5,
    "terrible": -2.5, "horrible": -2.5,
}
NEUTRAL_ADJECTIVES = ("long", "new", "loud", "different")
INTENSIFIERS = {"": 1.0, "very": 1.2, "really": 1.2, "somewhat": 0.6, "slightly": 0.5}
NEGATION = -0.5  # "not X" scores -0.5 x score(X)
OPENERS = ("", "i think", "honestly", "well", "i thought", "overall")
SUBJECTS = ("the movie", "the film", "the plot", "the acting", "the ending", "the story",
            "the music", "the script", "it", "this one")
VERBS = ("was", "is", "seemed", "felt")
FILLERS = ("", "i saw it last week", "we watched it on a sunday", "it runs about two hours",
           "my friend picked it for us")


@dataclass
class SplitLatents:
    """The hidden scores and choices behind one synthetic split (N clips); ``words`` (N, 6) indexes
    (opener, subject, verb, intensifier, adjective or, for neutral clips, neutral adjective, filler)."""

    s_t: np.ndarray
    s_a: np.ndarray
    s_v: np.ndarray
    noise: np.ndarray
    neutral: np.ndarray
    negated: np.ndarray
    words: np.ndarray
    audio_lengths: np.ndarray
    vision_lengths: np.ndarray

    def mix(self) -> np.ndarray:
        """Noise-free label before scaling and rounding, (N,) in [-3, 3]."""
        return MIX[0] * self.s_t + MIX[1] * self.s_a + MIX[2] * self.s_v

    def sentences(self) -> list[str]:
        """The N transcripts."""
        return [_sentence(row, bool(neu), bool(neg)) for row, neu, neg in zip(self.words, self.neutral, self.negated)]


def _sentence(words: np.ndarray, neutral: bool, negated: bool) -> str:
    opener, subject, verb, intens, adj, filler = (int(w) for w in words)
    adjective = NEUTRAL_ADJECTIVES[adj] if neutral else list(ADJECTIVES)[adj]
    parts = [OPENERS[opener], SUBJECTS[subject], VERBS[verb], "not" if negated else "",
             list(INTENSIFIERS)[intens], adjective]
    main = " ".join(p for p in parts if p)
    return f"{main}, {FILLERS[filler]}" if FILLERS[filler] else main


def quantise(values: np.ndarray, dataset: str) -> np.ndarray:
    """Scale a [-3, 3] score to the dataset's range, round to its grid, clip; float32."""
    bound = 1.0 if dataset.startswith("sims") else 3.0
    grid = GRID[dataset]
    scaled = np.asarray(values, dtype=np.float64) * (bound / 3.0)
    rounded = np.clip(np.round(scaled / grid) * grid, -bound, bound) + 0.0  # + 0.0: no "-0"
    return rounded.astype(np.float32)


def _seeds(dataset: str, seed: int) -> list[np.random.SeedSequence]:
    """[train, valid, test, shared] seed sequences of (dataset, seed)."""
    root = np.random.SeedSequence([int(seed), DATASETS.index(dataset), RECIPE_VERSION])
    return root.spawn(4)


def sample_latents(n: int, rng: np.random.Generator, la: int, lv: int) -> SplitLatents:
    """Draw the scores, words and lengths of ``n`` clips."""
    neutral = rng.random(n) < NEUTRAL_FRACTION
    negated = rng.random(n) < NEGATED_FRACTION
    sizes = (len(OPENERS), len(SUBJECTS), len(VERBS), len(INTENSIFIERS), len(ADJECTIVES), len(FILLERS))
    words = np.stack([rng.integers(0, k, n) for k in sizes], axis=1)
    words[neutral, 4] = rng.integers(0, len(NEUTRAL_ADJECTIVES), int(neutral.sum()))
    base = np.array(list(ADJECTIVES.values()))[words[:, 4]] * np.array(list(INTENSIFIERS.values()))[words[:, 3]]
    s_t = np.where(negated, NEGATION * base, base)
    own = rng.normal(0.0, OWN_STD, (2, n))
    s_a, s_v = (np.clip(CROSS_MODAL * s_t + own[i], -3, 3) for i in range(2))
    noise = rng.normal(0.0, NOISE_STD, n)
    s_t, s_a, s_v, noise = (np.where(neutral, 0.0, x) for x in (s_t, s_a, s_v, noise))
    return SplitLatents(s_t, s_a, s_v, noise, neutral, negated, words, _lengths(rng, n, la), _lengths(rng, n, lv))


def _lengths(rng: np.random.Generator, n: int, length: int) -> np.ndarray:
    lengths = rng.integers(max(1, length // 5), length + 1, n)
    return np.where(rng.random(n) < FULL_LENGTH_FRACTION, length, lengths).astype(np.int64)


def labels_of(latents: SplitLatents, dataset: str) -> np.ndarray:
    """(N,) float32 labels: quantised mix plus noise."""
    return quantise(latents.mix() + latents.noise, dataset)


def _directions(rng: np.random.Generator, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """A unit signal direction u (D,) and a projector (D, D) onto its orthogonal complement."""
    u = rng.standard_normal(dim)
    u /= np.linalg.norm(u)
    return u.astype(np.float32), (np.eye(dim) - np.outer(u, u)).astype(np.float32)


def plant_features(
    score: np.ndarray, lengths: np.ndarray, shape: tuple[int, int], direction: tuple[np.ndarray, np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """(N, L, D) float32: noise + planted score + clip offset in valid frames, zeros after."""
    length, dim = shape
    u, orthogonal = direction
    x = rng.standard_normal((len(score), length, dim), dtype=np.float32)
    offset = rng.normal(0.0, OFFSET_STD, (len(score), dim)).astype(np.float32) @ orthogonal
    x += (SIGNAL_AMPLITUDE / 3.0 * score.astype(np.float32))[:, None, None] * u + offset[:, None, :]
    x[np.arange(length)[None, :] >= lengths[:, None]] = 0.0
    return x


def add_neg_inf(audio: np.ndarray, lengths: np.ndarray, rng: np.random.Generator) -> None:
    """Set one to three valid audio values of ``NEG_INF_FRACTION`` of clips (at least one) to -inf."""
    count = min(len(audio), max(1, round(NEG_INF_FRACTION * len(audio))))
    rows = np.sort(rng.choice(len(audio), size=count, replace=False))
    rows = np.repeat(rows, rng.integers(1, 4, len(rows)))
    frames = (rng.random(len(rows)) * lengths[rows]).astype(np.int64)
    channels = rng.integers(0, audio.shape[2], len(rows))
    audio[rows, frames, channels] = -np.inf


def tokenize(sentences: list[str], tokenizer: Any, length: int) -> np.ndarray:
    """(N, 3, Lt) float32 ids / mask / segments, padded or truncated to Lt (unique sentences once)."""
    unique, inverse = np.unique(np.array(sentences, dtype=object).astype(str), return_inverse=True)
    out = tokenizer(list(unique), padding="max_length", truncation=True, max_length=length)
    segments = out.get("token_type_ids") or [[0] * length for _ in unique]
    rows = np.stack([np.asarray(out["input_ids"]), np.asarray(out["attention_mask"]), np.asarray(segments)], 1)
    return rows.astype(np.float32)[inverse.reshape(-1)]


def text_features(text_bert: np.ndarray, table: np.ndarray) -> np.ndarray:
    """(N, Lt, 768) float32 stand-ins for MMSA's BERT features: a fixed row per token id."""
    features = table[text_bert[:, 0].astype(np.int64) % len(table)]
    features *= text_bert[:, 1, :, None]  # zero at padding, in place
    return features


def _split_raw(
    dataset: str, name: str, n: int, split_seed: np.random.SeedSequence, shared: dict[str, Any], shapes: Shapes,
    tokenizer: Any, with_text_features: bool,
) -> dict[str, Any]:
    """One split in the MMSA layout; the big arrays are :class:`Lazy` (built when written)."""
    lt, la, lv, da, dv = shapes
    latent_rng, audio_rng, vision_rng = (np.random.default_rng(s) for s in split_seed.spawn(3))
    lat = sample_latents(n, latent_rng, la, lv)
    sentences = lat.sentences()
    text_bert = tokenize(sentences, tokenizer, lt)

    def audio() -> np.ndarray:
        x = plant_features(lat.s_a, lat.audio_lengths, (la, da), shared["audio"], audio_rng)
        add_neg_inf(x, lat.audio_lengths, audio_rng)
        return x

    split: dict[str, Any] = {
        "raw_text": np.array(sentences, dtype=object), "audio": Lazy(audio),
        "vision": Lazy(lambda: plant_features(lat.s_v, lat.vision_lengths, (lv, dv), shared["vision"], vision_rng)),
        "id": np.array([f"{name[:2]}{i // 8:05d}$_${i % 8}" for i in range(n)], dtype=object),
        "text_bert": text_bert, "audio_lengths": lat.audio_lengths.tolist(),
        "vision_lengths": lat.vision_lengths.tolist(), "regression_labels": labels_of(lat, dataset),
    }
    if with_text_features:
        split["text"] = Lazy(lambda: text_features(text_bert, shared["table"]))
    if dataset.startswith("sims"):
        for key, score in zip("TAV", (lat.s_t, lat.s_a, lat.s_v)):
            split[f"regression_labels_{key}"] = quantise(score, dataset)
    return split


def generate_raw(
    dataset: str = "mosi", sizes: tuple[int, int, int] = (480, 120, 240), seed: int = 0,
    tokenizer: Any = MINILM, shapes: Shapes | None = None, with_text_features: bool = True,
) -> dict[str, dict[str, Any]]:
    """The MMSA dict ``{split: {key: array | Lazy}}`` of a synthetic dataset.

    Args:
        dataset: whose shapes, label range and grid to use.
        sizes: clips in (train, valid, test).
        seed: everything is drawn from it; same arguments, same data.
        tokenizer: a HF tokenizer, or a text encoder name for ``load_tokenizer``.
        shapes: (Lt, La, Lv, Da, Dv); default the dataset's (docs/model.md §1).
        with_text_features: include the (N, Lt, 768) ``text`` key of real files.
    """
    if isinstance(tokenizer, str):
        from amccl.bert import load_tokenizer

        tokenizer = load_tokenizer(tokenizer)
    shapes = tuple(shapes or DATASET_SHAPES[dataset])  # type: ignore[assignment]
    *split_seeds, shared_seed = _seeds(dataset, seed)
    shared_rng = np.random.default_rng(shared_seed)
    shared = {"audio": _directions(shared_rng, shapes[3]), "vision": _directions(shared_rng, shapes[4]),
              "table": (0.5 * shared_rng.standard_normal((1024, TEXT_FEATURE_DIM))).astype(np.float32)}
    return {name: _split_raw(dataset, name, int(n), s, shared, shapes, tokenizer, with_text_features)
            for name, n, s in zip(SPLITS, sizes, split_seeds)}


def write_synthetic(path: str | Path, dataset: str = "mosi", sizes: tuple[int, int, int] = (480, 120, 240),
                    seed: int = 0, tokenizer: Any = MINILM, shapes: Shapes | None = None,
                    with_text_features: bool = True) -> Path:
    """Generate and write a synthetic MMSA pickle (numpy 1.x layout), one array in memory at a time."""
    raw = generate_raw(dataset, sizes, seed, tokenizer, shapes, with_text_features)
    return write_mmsa_pickle(raw, path)


def synthetic_data(dataset: str = "mosi", sizes: tuple[int, int, int] = (480, 120, 240), seed: int = 0,
                   tokenizer: Any = MINILM, shapes: Shapes | None = None) -> MMSAData:
    """A synthetic dataset built in memory (no pickle), validated by the loader's own code."""
    from amccl.data.mmsa import from_raw

    raw = {name: {k: v.make() if isinstance(v, Lazy) else v for k, v in split.items()}
           for name, split in generate_raw(dataset, sizes, seed, tokenizer, shapes, with_text_features=False).items()}
    return from_raw(raw, dataset, shapes, where=f"<synthetic {dataset} seed {seed}>")


def reference_maes(dataset: str = "mosi", n: int = 200_000, seed: int = 12345) -> dict[str, float]:
    """MAE of ideal predictors on the recipe (Monte Carlo over ``n`` clips): ``constant`` (the label
    median), ``text_only`` (the median per distinct text score) and ``all_modalities`` (knowing
    s_t, s_a, s_v: the floor set by noise and rounding)."""
    import pandas as pd

    lat = sample_latents(n, np.random.default_rng(seed), 50, 50)
    y = labels_of(lat, dataset).astype(np.float64)
    text_key = np.round(lat.s_t, 6) + 100 * lat.neutral
    preds = {"constant": np.full(n, np.median(y)), "all_modalities": quantise(lat.mix(), dataset),
             "text_only": pd.Series(y).groupby(text_key).transform("median").to_numpy()}
    return {name: float(np.mean(np.abs(y - preds[name]))) for name in ("constant", "text_only", "all_modalities")}
