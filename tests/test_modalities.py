"""Modality ablations: ``text_only``, ``audio_only``, ``vision_only``, ``no_text``, ``no_audio``, ``no_vision``.

A dropped modality's encoder, dropout, W and skip gate are never called (no draws, no gradient),
zeros stand in for its h and g, and only the pairs among the kept modalities stay in the loss.
"""

from __future__ import annotations

import pytest
import torch

import amccl.model
from amccl import AMCCL, evaluation
from amccl.ablations.variants import MODALITY_VARIANTS, VARIANTS, apply_variant, variants_table
from amccl.cli import main
from amccl.config import AMCCLConfig
from amccl.losses import LOSS_PARTS, amccl_loss, modality_pairs
from amccl.runtime import seed_everything
from amccl.train import fit
from tests.conftest import random_batch
from tests.literal_loss import literal_amccl_loss, literal_margin, literal_pair_loss

KEPT = {  # written out by hand: what each variant keeps
    "text_only": ("text",), "audio_only": ("audio",), "vision_only": ("vision",),
    "no_text": ("audio", "vision"), "no_audio": ("text", "vision"), "no_vision": ("text", "audio"),
}
# Every module a modality owns after the fusion-independent part: encoder, dropout, W, skip gate.
OWNED = {
    "text": ("text_model", "post_text_dropout", "post_text_layer_1", "text_skip_net"),
    "audio": ("audio_model", "post_audio_dropout", "post_audio_layer_1", "audio_skip_net"),
    "vision": ("video_model", "post_video_dropout", "post_video_layer_1", "video_skip_net"),
}
LETTER = {"text": "t", "audio": "a", "vision": "v"}
LABELS = torch.tensor([-2.4, -0.6, 0.0, 0.4, 1.2, 2.8])


def base_cfg() -> AMCCLConfig:
    return AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")


# --- config and registry -----------------------------------------------------------------------
def test_modalities_field_parses_and_validates():
    cfg = base_cfg()
    assert cfg.modalities == ("text", "audio", "vision")
    assert cfg.override("modalities=text, audio").modalities == ("text", "audio")
    assert cfg.override("modalities=vision").modalities == ("vision",)
    assert AMCCLConfig.from_dict(cfg.replace(modalities=("audio",)).to_dict()).modalities == ("audio",)
    for bad in ("audio,text", "text,text", "txt", ""):  # order, duplicate, unknown, empty
        with pytest.raises(ValueError, match="non-empty subset of text,audio,vision in that order"):
            cfg.override(f"modalities={bad}")


def test_cli_set_modalities():
    from amccl.cli import build_parser, config_from_args

    args = build_parser().parse_args(["train", "--dataset", "mosi", "--profile", "smoke",
                                      "--set", "modalities=text,vision"])
    assert config_from_args(args).modalities == ("text", "vision")


def test_registry_holds_the_six_modality_variants():
    assert MODALITY_VARIANTS == tuple(KEPT)
    table = variants_table().set_index("variant")
    for name, kept in KEPT.items():
        assert apply_variant(base_cfg(), name).modalities == kept
        assert VARIANTS[name].section == table.loc[name, "section"] == "modality"
        assert table.loc[name, "overrides"] == f"modalities={','.join(kept)}"


def test_combinations_apply_both_and_conflicts_raise():
    cfg = base_cfg()
    both = apply_variant(cfg, "no_audio+no_se")
    assert both == cfg.replace(modalities=("text", "vision"), se=False)
    assert apply_variant(cfg, "text_only+text_only").modalities == ("text",)
    with pytest.raises(ValueError, match="'text_only' sets modalities=\\('text',\\) but 'no_text' sets"):
        apply_variant(cfg, "text_only+no_text")
    with pytest.raises(ValueError, match="cannot be combined"):
        apply_variant(cfg, "no_audio+no_vision")  # both set modalities: one variant names one set


def test_docs_page_says_what_the_registry_defines():
    """Every variant has one row in docs/variants.md, under its section, with its overrides and description."""
    import re
    from pathlib import Path

    page = (Path(__file__).parents[1] / "docs" / "variants.md").read_text(encoding="utf-8")
    rows = {}
    for part in page.split("\n## ")[1:]:
        section = "modality" if part.startswith("Modality") else part.split(":")[0]
        for name, overrides, description in re.findall(r"^\| `(\w+)` \| (.+?) \| (.+?) \|$", part, re.M):
            rows[name] = (section, overrides.strip("`"), description)
    expected = {r["variant"]: (r["section"], r["overrides"], r["description"])
                for r in variants_table().to_dict("records")}
    assert rows == expected


def test_ablate_list_shows_them(capsys):
    assert main(["ablate", "--list"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in MODALITY_VARIANTS) and "modalities=audio,vision" in out


# --- the model ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def full_state() -> dict[str, torch.Tensor]:
    torch.manual_seed(0)
    return AMCCL(base_cfg()).state_dict()


def variant_model(name: str) -> AMCCL:
    torch.manual_seed(0)  # same construction order: the full model's initial weights
    return AMCCL(apply_variant(base_cfg(), name))


@pytest.mark.parametrize("name", MODALITY_VARIANTS)
def test_dropped_modules_are_built_but_never_called_and_get_no_gradient(name, full_state):
    model = variant_model(name).train()
    state = model.state_dict()
    assert list(state) == list(full_state) and all(torch.equal(state[k], full_state[k]) for k in state)
    calls = {m: 0 for m in OWNED}
    for modality, names in OWNED.items():
        for attr in names:
            getattr(model, attr).register_forward_hook(lambda *_, m=modality: calls.__setitem__(m, calls[m] + 1))
    batch = random_batch(model.cfg, b=6)
    out = model(**batch)
    amccl_loss(out, LABELS, model.cfg)["loss"].backward()
    d = model.cfg.post_dim
    for modality, names in OWNED.items():
        params = [p for attr in names for p in getattr(model, attr).parameters()]
        feature = out[f"Feature_{LETTER[modality]}"]
        assert feature.shape == (6, d) and feature.dtype == torch.float32
        if modality in KEPT[name]:
            assert calls[modality] == len(names)  # each module once
            head = [p for attr in names[1:] for p in getattr(model, attr).parameters()]  # W, skip gate
            assert all(p.grad is not None for p in head)  # (the BERT's unused pooler gets none)
            assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in getattr(model, names[0]).parameters())
            assert feature.abs().sum() > 0
        else:
            assert calls[modality] == 0
            assert all(p.grad is None for p in params)
            assert torch.equal(feature, torch.zeros(6, d))
    assert torch.isfinite(out["M"]).all() and model.post_fusion_layer_3.weight.grad is not None


@pytest.mark.parametrize("name", MODALITY_VARIANTS)
def test_kept_modalities_draw_what_they_draw_alone_and_zeros_feed_the_head(name):
    """Train mode: the kept encoders, then their dropouts, in text-audio-vision order, from one
    seed, give the model's features bit for bit: the dropped ones drew nothing in between."""
    model = variant_model(name).train()
    batch = random_batch(model.cfg, b=6)
    torch.manual_seed(7)
    out = model(**batch)
    torch.manual_seed(7)
    states = {
        "text": lambda: model._text_states(batch["text"], None),
        "audio": lambda: model._sequence_states(batch["audio"], batch["audio_lengths"], model.audio_model),
        "vision": lambda: model._sequence_states(batch["vision"], batch["vision_lengths"], model.video_model),
    }
    summaries = {m: states[m]() for m in KEPT[name]}
    vectors = {m: model._vectors(m, s) for m, s in summaries.items()}
    zeros = torch.zeros(6, model.cfg.post_dim)
    h = [vectors[m][0] if m in vectors else zeros for m in OWNED]
    g = [vectors[m][1] if m in vectors else zeros for m in OWNED]
    for m, value in zip(OWNED, h):
        assert torch.equal(out[f"Feature_{LETTER[m]}"], value)
    m_hat, feature_f = model.head(model.fuse(*h), tuple(g))  # fusion dropout: the next draws
    assert torch.equal(out["M"], m_hat) and torch.equal(out["Feature_f"], feature_f)


def test_no_text_never_runs_the_bert_even_with_cached_text(monkeypatch, tiny_cfg, tiny_data):
    counts = {"cache": 0, "bert": 0}
    real_cache, real_forward = evaluation.text_cache_rows, amccl.model.TextEncoder.forward

    def counting_cache(*args, **kwargs):
        counts["cache"] += 1
        return real_cache(*args, **kwargs)

    def counting_forward(self, text):
        counts["bert"] += 1
        return real_forward(self, text)

    monkeypatch.setattr(evaluation, "text_cache_rows", counting_cache)
    monkeypatch.setattr(amccl.model.TextEncoder, "forward", counting_forward)
    cfg = apply_variant(tiny_cfg, "no_text").replace(freeze_text=True, epochs=1)
    assert all(getattr(s, "text_feats", None) is None for s in evaluation.with_text_cache(None, tiny_data, cfg,
                                                                                          "cpu").values())
    seed_everything(1111)
    initial = AMCCL(cfg).state_dict()
    history = fit(cfg, tiny_data, seed=1111, progress=False)
    assert counts == {"cache": 0, "bert": 0}
    assert history.test_metrics["MAE"] > 0
    final = history.model.state_dict()  # no gradient, so AdamW (weight decay included) left them
    for prefix in OWNED["text"]:
        keys = [k for k in initial if k.startswith(prefix + ".")]
        assert all(torch.equal(initial[k], final[k]) for k in keys)
    assert not torch.equal(initial["post_audio_layer_1.weight"], final["post_audio_layer_1.weight"])


# --- the loss ----------------------------------------------------------------------------------
def loss_case(seed: int = 0, b: int = 6, d: int = 8):
    g = torch.Generator().manual_seed(seed)
    feats = {m: torch.relu(torch.randn(b, d, generator=g)).requires_grad_() for m in "tav"}
    out = {f"Feature_{m}": feats[m] for m in "tav"}
    out["M"] = torch.randn(b, 1, generator=g).requires_grad_()
    return out, [feats["t"], feats["a"], feats["v"], out["M"]]


def test_modality_pairs_index_the_stack_of_kept_features():
    t, a, v = 0, 1, 2  # every modality: INTER_PAIRS, INTRA_PAIRS
    assert modality_pairs(("text", "audio", "vision")) == (((v, a), (v, t), (t, a)), ((v, v), (a, a), (t, t)))
    assert modality_pairs(("text", "vision")) == (((1, 0),), ((1, 1), (0, 0)))  # stack (t, v): (v,t)
    assert modality_pairs(("audio", "vision")) == (((1, 0),), ((1, 1), (0, 0)))  # stack (a, v): (v,a)
    assert modality_pairs(("text", "audio")) == (((0, 1),), ((1, 1), (0, 0)))  # stack (t, a): (t,a)
    assert modality_pairs(("audio",)) == ((), ((0, 0),))


# Hand-written pairs of each variant: (inter pairs, intra modalities), letters as in Feature_x.
PAIRS = {
    "text_only": ([], ["t"]), "audio_only": ([], ["a"]), "vision_only": ([], ["v"]),
    "no_text": ([("v", "a")], ["v", "a"]), "no_audio": ([("v", "t")], ["v", "t"]),
    "no_vision": ([("t", "a")], ["a", "t"]),
}


@pytest.mark.parametrize("name", MODALITY_VARIANTS)
def test_loss_holds_exactly_the_remaining_pairs(name):
    cfg = apply_variant(base_cfg(), name)
    out, _ = loss_case()
    got = amccl_loss(out, LABELS, cfg)
    inter_pairs, intra = PAIRS[name]
    f = {m: out[f"Feature_{m}"] for m in "tav"}
    inter = sum((literal_pair_loss(f[x], f[y], LABELS, cfg)[0] + literal_margin(f[x], f[y], LABELS, cfg)
                 for x, y in inter_pairs), torch.zeros(()))
    margin = sum((literal_margin(f[x], f[y], LABELS, cfg) for x, y in inter_pairs), torch.zeros(()))
    intra_loss = sum(literal_pair_loss(f[m], f[m], LABELS, cfg)[0] for m in intra)
    refine = sum(literal_pair_loss(f[x], f[y], LABELS, cfg)[1] for x, y in inter_pairs + [(m, m) for m in intra])
    l1 = (out["M"].reshape(-1) - LABELS).abs().mean()
    contrastive = cfg.inter_weight * inter + cfg.intra_weight * intra_loss
    expected = dict(loss=l1 + cfg.gamma * contrastive, l1=l1, contrastive=contrastive, inter=inter,
                    intra=intra_loss, refine=refine, margin=margin)
    for key in LOSS_PARTS:
        assert got[key].item() == pytest.approx(expected[key].item(), rel=1e-5, abs=1e-6), key
    if not inter_pairs:
        assert got["inter"].item() == 0.0 and got["margin"].item() == 0.0
    else:
        assert got["margin"].item() > 0  # the margin of the one inter pair is there
    # a dropped modality's feature cannot move the loss, nor get a gradient from it
    dropped = [LETTER[m] for m in OWNED if m not in cfg.modalities]
    junk = dict(out, **{f"Feature_{m}": torch.randn(6, 8).requires_grad_() for m in dropped})
    moved = amccl_loss(junk, LABELS, cfg)
    assert all(torch.equal(moved[k], got[k]) for k in LOSS_PARTS)
    grads = torch.autograd.grad(moved["loss"], [junk[f"Feature_{m}"] for m in dropped], allow_unused=True)
    assert all(g is None for g in grads)


@pytest.mark.parametrize("modalities", [*KEPT.values(), ("text", "audio", "vision")])
@pytest.mark.parametrize("overrides", [{}, {"use_margin": False, "contrastive_mean": "positives"}])
def test_fast_loss_equals_literal_for_each_modality_set(modalities, overrides):
    cfg = base_cfg().replace(modalities=modalities, **overrides)
    out, leaves = loss_case(seed=3, b=12, d=16)
    labels = torch.round(torch.linspace(-3, 3, 12) * 5) / 5
    fast, slow = amccl_loss(out, labels, cfg), literal_amccl_loss(out, labels, cfg)
    explicit = literal_amccl_loss(out, labels, base_cfg().replace(**overrides), modalities=modalities)
    for key in LOSS_PARTS:
        assert fast[key].item() == pytest.approx(slow[key].item(), rel=1e-5, abs=1e-6), key
        assert explicit[key].item() == slow[key].item(), key
    g_fast = torch.autograd.grad(fast["loss"], leaves, allow_unused=True, materialize_grads=True)
    g_slow = torch.autograd.grad(slow["loss"], leaves, allow_unused=True, materialize_grads=True)
    for gf, gs in zip(g_fast, g_slow):
        torch.testing.assert_close(gf, gs, rtol=1e-4, atol=1e-6)
