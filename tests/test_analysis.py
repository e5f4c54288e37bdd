"""Alignment analysis: metrics on constructed embeddings with known values, extraction, figures."""

from __future__ import annotations

import math
import sys
from types import SimpleNamespace

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from amccl.analysis import (  # noqa: E402
    Embeddings,
    alignment_metrics,
    extract_embeddings,
    project_joint,
)
from amccl.analysis.alignment import (  # noqa: E402
    alignment,
    l2_normalize,
    modality_gap,
    polarity,
    polarity_silhouette,
    retrieval,
    sentiment_spearman,
    uniformity,
)
from amccl.plotting import (  # noqa: E402
    plot_joint,
    plot_learning_curves,
    plot_models_side_by_side,
    save_figure,
)

N, D = 240, 128


def _labels(n: int = N, seed: int = 0) -> np.ndarray:
    return np.round(np.random.default_rng(seed).uniform(-3, 3, n) * 3) / 3  # MOSI-like grid


def _emb(text, audio, vision, labels) -> Embeddings:
    return Embeddings(text=text, audio=audio, vision=vision, labels=labels)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


# ------------------------------------------------------------------ constructed cases
def test_identical_features_align_perfectly():
    # same generic gaussian rows in every modality: each clip's own row is the unique best
    # match (similarity 1) -> recall@1 = recall@5 = 1, rank 1; x_i = y_i -> alignment 0, gap 0.
    x = np.random.default_rng(1).normal(size=(N, D))
    table = alignment_metrics(_emb(x, x, x, _labels()))
    pairs = table[table["kind"] == "pair"]
    assert list(pairs.index) == ["text->audio", "audio->text", "text->vision", "vision->text",
                                 "audio->vision", "vision->audio"]
    assert (pairs["recall@1"] == 1.0).all() and (pairs["recall@5"] == 1.0).all()
    assert (pairs["mean_rank"] == 1.0).all()
    assert np.allclose(pairs["alignment"], 0.0) and np.allclose(pairs["modality_gap"], 0.0)


def test_collapsed_features():
    # every row the same vector: ||x_i - x_j|| = 0 -> uniformity log(mean e^0) = log 1 = 0;
    # alignment 0; all similarities tie -> expected recall@k = k / N, mean rank (N + 1) / 2;
    # distances constant -> Spearman undefined (NaN); silhouette (b - a) / max = 0 by sklearn.
    c = np.tile(np.arange(1.0, D + 1), (N, 1))
    table = alignment_metrics(_emb(c, c, c, _labels()))
    pairs, mods = table[table["kind"] == "pair"], table[table["kind"] == "modality"]
    assert np.allclose(mods["uniformity"], 0.0, atol=1e-12)
    assert np.allclose(pairs["alignment"], 0.0)
    assert np.allclose(pairs["recall@1"], 1 / N) and np.allclose(pairs["recall@5"], 5 / N)
    assert np.allclose(pairs["mean_rank"], (N + 1) / 2)
    assert pairs["spearman"].isna().all() and mods["spearman"].isna().all()
    assert np.allclose(mods["silhouette"], 0.0)


def test_random_gaussian_features_score_chance():
    # independent gaussian rows in d = 512 are nearly orthogonal unit vectors:
    #   recall@k ~ k / N and mean rank ~ (N + 1) / 2 (chance);
    #   alignment E||x - y||^2 = 2 - 2 E[x.y] = 2;
    #   uniformity log E exp(-2 (2 - 2 s)) with s ~ N(0, 1/d) = -4 + 8/d (= -3.984 for d = 512);
    #   no sentiment structure: Spearman ~ 0, silhouette ~ 0.
    rng = np.random.default_rng(2)
    n, d = 400, 512
    t, a, v = (rng.normal(size=(n, d)) for _ in range(3))
    table = alignment_metrics(_emb(t, a, v, _labels(n)))
    pairs, mods = table[table["kind"] == "pair"], table[table["kind"] == "modality"]
    assert pairs["recall@1"].max() <= 5 / n  # one expected hit per direction; 5 is far out
    assert pairs["recall@5"].mean() == pytest.approx(5 / n, abs=4 / n)
    assert pairs["mean_rank"].mean() == pytest.approx((n + 1) / 2, rel=0.1)
    assert np.allclose(pairs["alignment"], 2.0, atol=0.02)
    assert np.allclose(mods["uniformity"], -4 + 8 / d, atol=0.01)
    assert (table["spearman"].abs() < 0.05).all()
    assert (mods["silhouette"].abs() < 0.05).all()


def test_features_monotone_in_label_give_spearman_one():
    # x_i = (cos th_i, sin th_i) with th_i = label_i * pi / 8 (|th| <= 3pi/8): cosine distance
    # 1 - cos(th_i - th_j) increases with |label_i - label_j| -> rho = 1. Polarity classes sit
    # on opposite sides -> clearly positive silhouette. Shuffled labels destroy it.
    # (continuous labels: on a grid, float32 noise would order tied label gaps at random.)
    lab = np.random.default_rng(6).uniform(-3, 3, N)
    th = lab * np.pi / 8
    x = np.stack([np.cos(th), np.sin(th)], 1)
    table = alignment_metrics(_emb(x, x, x, lab))
    assert (table["spearman"] > 0.999).all()
    assert (table.loc[["text", "audio", "vision"], "silhouette"] > 0.5).all()
    shuffled = np.random.default_rng(3).permutation(lab)
    assert abs(sentiment_spearman(x, shuffled)) < 0.1


def test_table_layout_and_not_applicable_cells():
    x = np.random.default_rng(4).normal(size=(30, 8))
    table = alignment_metrics({"t": x, "a": x + 0.1}, labels=_labels(30), modalities=("t", "a"), ks=(1, 3))
    assert list(table.index) == ["text->audio", "audio->text", "text", "audio"]
    assert list(table.columns) == ["kind", "recall@1", "recall@3", "mean_rank", "alignment",
                                   "modality_gap", "uniformity", "silhouette", "spearman"]
    assert table.loc["text", ["recall@1", "alignment"]].isna().all()
    assert table.loc["text->audio", ["uniformity", "silhouette"]].isna().all()
    assert table.attrs["n"] == 30
    with pytest.raises(ValueError):
        alignment_metrics({"t": x, "a": x})  # labels required with a mapping


# ------------------------------------------------------------------ single measures, by hand
def test_retrieval_hand_cases():
    # rows 0 and 1 are the same vector: each sees its own match tied with one other row
    # (g = 0, e = 1) -> recall@1 = 1/2 each; row 2 is unique -> 1. mean = (1/2 + 1/2 + 1)/3 = 2/3.
    # expected ranks 1.5, 1.5, 1 -> 4/3.
    q = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    r = retrieval(q, q, ks=(1, 2))
    assert r["recall@1"] == pytest.approx(2 / 3)
    assert r["recall@2"] == pytest.approx(1.0)
    assert r["mean_rank"] == pytest.approx(4 / 3)
    # swapped gallery: each query's own row is second (g = 1) -> recall@1 0, recall@2 1, rank 2.
    swapped = retrieval([[1.0, 0.0], [0.0, 1.0]], [[0.0, 1.0], [1.0, 0.0]], ks=(1, 2))
    assert swapped == {"recall@1": 0.0, "recall@2": 1.0, "mean_rank": 2.0}


def test_alignment_gap_uniformity_by_hand():
    # orthogonal unit rows: ||e1 - e2||^2 = 2; opposite: ||e1 + e1||^2 = 4; scale is removed.
    assert alignment([[3.0, 0.0]], [[0.0, 0.5]]) == pytest.approx(2.0)
    assert alignment([[1.0, 0.0]], [[-2.0, 0.0]]) == pytest.approx(4.0)
    # centroids e1 and e2 -> gap sqrt(2)
    assert modality_gap([[1.0, 0.0]] * 4, [[0.0, 2.0]] * 4) == pytest.approx(math.sqrt(2))
    # two opposite points: one pair at squared distance 4 -> log exp(-2 * 4) = -8
    assert uniformity([[1.0, 0.0], [-1.0, 0.0]]) == pytest.approx(-8.0)
    # three orthogonal points: every pair at squared distance 2 -> log exp(-4) = -4
    assert uniformity(np.eye(3)) == pytest.approx(-4.0)
    assert math.isnan(uniformity([[1.0, 0.0]]))


def test_silhouette_polarity_classes():
    # negatives all at e1, positives all at e2: within-class cosine distance a = 0, to the
    # other class b = 1 -> s = (b - a) / max(a, b) = 1 for every clip.
    x = np.array([[1.0, 0, 0]] * 3 + [[0, 1.0, 0]] * 3)
    lab = np.array([-1.0, -2, -0.5, 1, 2, 0.5])
    assert polarity_silhouette(x, lab) == pytest.approx(1.0)
    # one neutral clip at e3 is dropped (< 2 samples); kept, it would score 0 and lower the mean.
    x7, lab7 = np.vstack([x, [0, 0, 1.0]]), np.append(lab, 0.0)
    assert polarity_silhouette(x7, lab7) == pytest.approx(1.0)
    # only one polarity -> undefined
    assert math.isnan(polarity_silhouette(x[:3], lab[:3]))
    assert list(polarity([-0.2, 0.0, 3.0])) == [-1, 0, 1]


def test_spearman_subsample_is_seeded_and_close_to_exact():
    lab = _labels(300)
    x = np.stack([np.cos(lab / 3), np.sin(lab / 3)], 1) + np.random.default_rng(5).normal(0, 0.3, (300, 2))
    exact = sentiment_spearman(x, lab)  # 44,850 pairs < default budget: all of them
    sub = sentiment_spearman(x, lab, max_pairs=5000, seed=7)
    assert sub == sentiment_spearman(x, lab, max_pairs=5000, seed=7)
    assert sub == pytest.approx(exact, abs=0.05)


def test_zero_rows_stay_zero_and_do_not_crash():
    x = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert np.array_equal(l2_normalize(x), [[0.0, 0.0], [0.6, 0.8]])
    table = alignment_metrics({"t": x, "a": x, "v": x}, labels=[-1.0, 1.0])
    assert np.isfinite(table["alignment"].dropna()).all()


# ------------------------------------------------------------------ Embeddings
def test_embeddings_defaults():
    x = np.arange(12.0).reshape(3, 4)
    e = Embeddings(text=x, audio=x, vision=x, labels=[0.5, -1, 2])
    assert list(e.ids) == ["0", "1", "2"] and np.isnan(e.pred).all() and e.fusion.shape == (3, 0)
    assert np.array_equal(e.features("Feature_t"), x) and np.array_equal(e.features("a"), x)
    with pytest.raises(ValueError):
        Embeddings(text=x, audio=x[:2], vision=x, labels=[0, 1, 2])


class FakeModel(nn.Module):
    """Features are simple functions of the inputs; dropout shows whether eval mode was on."""

    def __init__(self, d: int = 4) -> None:
        super().__init__()
        self.lin = nn.Linear(2, d)
        self.drop = nn.Dropout(0.5)
        self.calls: list[tuple[bool, bool]] = []  # (training, grad enabled) per forward

    def forward(self, text, audio, vision, audio_lengths=None, vision_lengths=None, text_feats=None):
        self.calls.append((self.training, torch.is_grad_enabled()))
        h = self.drop(self.lin(torch.stack([text[:, 0, 0].float(), audio[:, 0, 0]], 1)))
        return {"M": vision[:, 0, :1], "Feature_t": h, "Feature_a": h + 1, "Feature_v": 2 * h,
                "Feature_f": torch.cat([h, h, h], 1)}


def _fake_split(n: int = 10):
    g = torch.Generator().manual_seed(0)
    return SimpleNamespace(
        text=torch.randint(0, 50, (n, 3, 5), generator=g), audio=torch.randn(n, 6, 2, generator=g),
        vision=torch.randn(n, 7, 3, generator=g), labels=torch.linspace(-3, 3, n),
        ids=np.array([f"vid{i}$_${i}" for i in range(n)]),
    )


def _fake_batches(split, batch_size):
    n = split.labels.shape[0]
    chunks = [torch.arange(s, min(s + batch_size, n)) for s in range(0, n, batch_size)]
    return [{"text": split.text[i], "audio": split.audio[i], "vision": split.vision[i],
             "audio_lengths": torch.full((len(i),), 6), "vision_lengths": torch.full((len(i),), 7),
             "labels": split.labels[i], "index": i} for i in reversed(chunks)]  # out of order on purpose


def test_extract_embeddings_with_fake_model_and_loader():
    split = _fake_split()
    data = SimpleNamespace(split=lambda name: split if name == "valid" else None)
    model = FakeModel()
    model.train()
    emb = extract_embeddings(model, data, "valid", batch_size=4, batches=_fake_batches)
    # eval mode, no grad in every forward; training mode restored afterwards
    assert model.calls and all(c == (False, False) for c in model.calls)
    assert model.training
    # rows back in split order with ids, labels, (B, 1) predictions flattened
    assert list(emb.index) == list(range(10)) and emb.ids[3] == "vid3$_$3" and emb.split == "valid"
    assert np.allclose(emb.labels, np.linspace(-3, 3, 10))
    assert np.allclose(emb.pred, split.vision[:, 0, 0].numpy())
    with torch.no_grad():
        h = model.lin(torch.stack([split.text[:, 0, 0].float(), split.audio[:, 0, 0]], 1)).numpy()
    assert np.allclose(emb.text, h, atol=1e-6) and np.allclose(emb.audio, h + 1, atol=1e-6)
    assert np.allclose(emb.vision, 2 * h, atol=1e-6) and emb.fusion.shape == (10, 12)


def test_extract_embeddings_restores_eval_mode_and_mode_on_error():
    model = FakeModel().eval()
    split = _fake_split(3)
    extract_embeddings(model, split, batches=_fake_batches(split, 2))
    assert not model.training
    model.train()
    bad = [{"text": split.text, "labels": split.labels, "index": torch.arange(3)}]  # no audio
    with pytest.raises(TypeError):
        extract_embeddings(model, split, batches=bad)
    assert model.training


def test_extract_embeddings_with_the_real_model_and_loader():
    data_mod = pytest.importorskip("amccl.data")
    if not hasattr(data_mod, "load_data") or not hasattr(data_mod, "BatchLoader"):
        pytest.skip("amccl.data has no load_data/BatchLoader yet")
    from amccl.config import AMCCLConfig
    from amccl.model import AMCCL

    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")
    torch.manual_seed(0)
    model, data = AMCCL(cfg), data_mod.load_data(cfg)
    emb = extract_embeddings(model, data, "test", batch_size=7)
    split = data.split("test")
    assert len(emb) == len(split) and list(emb.ids) == list(split.ids)
    assert emb.text.shape == (len(split), cfg.post_dim) and emb.fusion.shape == (len(split), 3 * cfg.post_fusion_dim)
    assert np.allclose(emb.labels, split.labels)
    with torch.no_grad():  # one batch straight through the model agrees with the extraction
        batch = next(iter(data_mod.BatchLoader(split, batch_size=7, shuffle=False, generator=None)))
        model.eval()
        out = model(**{k: v for k, v in batch.items() if k not in ("labels", "index")})
    assert np.allclose(emb.pred[:7], out["M"].reshape(-1).numpy(), atol=1e-5)
    assert np.allclose(emb.audio[:7], out["Feature_a"].numpy(), atol=1e-5)
    assert np.isfinite(alignment_metrics(emb)["alignment"].dropna()).all()


# ------------------------------------------------------------------ projections and figures
def _clustered_emb(n: int = 60, seed: int = 0) -> Embeddings:
    rng = np.random.default_rng(seed)
    lab = rng.uniform(-3, 3, n)
    base = np.outer(lab, np.ones(16)) + rng.normal(0, 0.5, (n, 16))
    return _emb(base, base + rng.normal(0, 0.3, base.shape), np.abs(rng.normal(size=(n, 16))), lab)


def test_project_joint_pca_layout_and_subsample():
    e = _clustered_emb(50)
    proj = project_joint(e, method="pca")
    assert proj.attrs["method"] == "pca" and len(proj) == 150
    assert list(proj.columns) == ["x", "y", "modality", "label", "pred", "id", "clip"]
    assert proj["modality"].value_counts().to_dict() == {"text": 50, "audio": 50, "vision": 50}
    sub = project_joint(e, method="pca", max_clips=20, seed=3)
    assert len(sub) == 60 and (sub.groupby("clip").size() == 3).all()
    assert sub.equals(project_joint(e, method="pca", max_clips=20, seed=3))
    with pytest.raises(ValueError):
        project_joint(e, method="mds")


def test_umap_missing_falls_back_to_tsne_with_a_note(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "umap", None)  # makes `import umap` raise ImportError
    proj = project_joint(_clustered_emb(20), method="umap")
    assert proj.attrs["method"] == "tsne"
    assert "umap-learn is not installed" in capsys.readouterr().out


@pytest.mark.slow
def test_umap_projection_is_seeded():
    pytest.importorskip("umap")
    e = _clustered_emb(40)
    first = project_joint(e, method="umap", seed=1)
    assert first.attrs["method"] == "umap"
    assert np.allclose(first[["x", "y"]], project_joint(e, method="umap", seed=1)[["x", "y"]])


def test_plot_joint_has_colour_bar_legend_and_axis_labels(tmp_path):
    fig = plot_joint(project_joint(_clustered_emb(), method="pca"), title="MOSI test")
    label_ax, modality_ax, cbar_ax = fig.axes
    assert cbar_ax.get_ylabel() == "sentiment label"
    assert cbar_ax.get_ylim() == (-3.0, 3.0)  # symmetric around 0
    assert label_ax.get_xlabel() == "PC 1" and label_ax.get_ylabel() == "PC 2"
    assert [t.get_text() for t in modality_ax.get_legend().get_texts()] == ["text", "audio", "vision"]
    assert save_figure(fig, tmp_path / "joint.png").stat().st_size > 0


def test_plot_models_side_by_side(tmp_path):
    embs = {"untrained": _clustered_emb(seed=1), "trained": _clustered_emb(seed=2), "no_cl": _clustered_emb(seed=3)}
    fig = plot_models_side_by_side(embs, method="pca")
    titles = [ax.get_title() for ax in fig.axes[:6]]
    assert any(t.startswith("untrained\nR@1") for t in titles)
    assert any(ax.get_ylabel() == "sentiment label" for ax in fig.axes)  # the shared colour bar
    assert [t.get_text() for t in fig.axes[5].get_legend().get_texts()] == ["text", "audio", "vision"]
    save_figure(fig, tmp_path / "side.png")


def test_plot_learning_curves_panels():
    hist = pd.DataFrame({
        "epoch": [1, 2, 3], "train_loss": [1.2, 0.9, 0.8], "train_l1": [1.1, 0.85, 0.75],
        "train_contrastive": [9.0, 8.0, 7.5], "train_refine": [-0.1, -0.3, -0.4], "valid_loss": [1.0, 0.9, 0.95],
        "valid_MAE": [1.0, 0.9, 0.95], "valid_Has0_acc_2": [0.6, 0.7, 0.68], "valid_Non0_acc_2": [0.61, 0.72, 0.7],
        "lr_other": [1e-4, 2e-4, 3e-4], "seconds": [3.0, 3.0, 3.0],
    })
    fig = plot_learning_curves(hist, best_epoch=2)
    losses, parts, mae, acc = fig.axes
    assert sorted(t.get_text() for t in losses.get_legend().get_texts()) == ["train_l1", "train_loss", "valid_loss"]
    assert sorted(t.get_text() for t in parts.get_legend().get_texts()) == ["train_contrastive", "train_refine"]
    assert acc.get_ylabel() == "accuracy (fraction)" and mae.get_xlabel() == "epoch"
    assert any(list(line.get_xdata()) == [2, 2] for line in mae.get_lines())  # best-epoch marker
    history = SimpleNamespace(to_frame=lambda: hist.set_index("epoch"), best_epoch=3)  # like History
    marked = plot_learning_curves(history).axes[2]
    assert any(list(line.get_xdata()) == [3, 3] for line in marked.get_lines())
    empty = plot_learning_curves(hist[["epoch", "train_loss"]])
    assert empty.axes[2].texts[0].get_text() == "no such columns"
