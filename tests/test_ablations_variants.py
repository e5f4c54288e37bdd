"""Each named variant changes what it names and nothing else.

Config level: the variant's config differs from the base in exactly its override fields.
Model level: the variant model is the full model with the full model's weights copied in
where names match; on the same batch the named part is checked against a computation by
hand and everything upstream of it is identical. Loss level: on the same outputs the loss
parts other than the named one are identical and the named one moves by the hand-computed
amount.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from amccl import AMCCL
from amccl.ablations.variants import (
    CLEAN_VARIANTS,
    MODALITY_VARIANTS,
    PAPER_VARIANTS,
    VARIANTS,
    apply_variant,
    canonical_name,
    variants_table,
)
from amccl.config import AMCCLConfig
from amccl.fusion import kernel_channels
from amccl.losses import amccl_loss
from tests.conftest import random_batch

MODEL_VARIANTS = {"no_se", "kernel_1", "kernel_3", "kernel_5", "fixed_kernel_weights", "concat_fusion"}
PADDING_VARIANTS = {"padding_mask", "last_valid_step", "masked_means"}
LOSS_VARIANTS = {"no_cl", "no_refine", "no_margin", "no_inter", "no_intra", "polarity_only", "positives_mean"}


def base_cfg(dataset="mosi") -> AMCCLConfig:
    return AMCCLConfig.for_dataset(dataset, profile="smoke", text_encoder="tiny-random")


# --- the registry ----------------------------------------------------------------------------
def test_every_variant_has_a_section_and_a_behaviour_test():
    sections = [set(PAPER_VARIANTS), set(CLEAN_VARIANTS), set(MODALITY_VARIANTS)]
    assert set().union(*sections) == set(VARIANTS) and sum(map(len, sections)) == len(VARIANTS)
    tested = MODEL_VARIANTS | PADDING_VARIANTS | LOSS_VARIANTS | set(MODALITY_VARIANTS) | {"full"}
    assert tested == set(VARIANTS)  # a new variant needs a test below (or in tests/test_modalities.py)


def test_variants_table_renders_overrides_and_merges_combinations():
    table = variants_table().set_index("variant")
    assert list(table.index) == list(VARIANTS)
    assert (table.loc["full", "overrides"], table.loc["kernel_3", "overrides"]) == ("(none)", "kernels=3")
    both = variants_table(["no_se+no_refine"]).iloc[0]
    assert both["overrides"] == "se=False, lambda_refine=0.0"
    assert both["description"] == f"{VARIANTS['no_se'].description}; {VARIANTS['no_refine'].description}"


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
@pytest.mark.parametrize("name", list(VARIANTS))
def test_config_changes_exactly_the_named_fields(name, dataset):
    cfg = base_cfg(dataset)
    before = cfg.to_dict()  # snapshot first: apply_variant must leave cfg as it was
    after = apply_variant(cfg, name).to_dict()
    changed = {k for k in before if before[k] != after[k]}
    assert changed == set(VARIANTS[name].overrides)  # every override is a real change, nothing else moves
    assert cfg.to_dict() == before  # the base config is untouched


def test_combinations_merge_and_conflicts_raise():
    cfg = base_cfg()
    both = apply_variant(cfg, "no_se+no_refine")
    assert both == cfg.replace(se=False, lambda_refine=0.0)
    assert apply_variant(cfg, "padding_mask+last_valid_step+masked_means").padding_irrelevant
    assert canonical_name(" full + no_se ") == "no_se" and canonical_name("full") == "full"
    with pytest.raises(ValueError, match="'kernel_1' sets kernels=\\(1,\\) but 'kernel_3' sets kernels=\\(3,\\)"):
        apply_variant(cfg, "kernel_1+kernel_3")
    with pytest.raises(ValueError, match="did you mean no_margin"):
        apply_variant(cfg, "no_margn")
    with pytest.raises(ValueError, match="malformed"):
        apply_variant(cfg, "no_se+")


# --- models on the same weights --------------------------------------------------------------
def make_batch(cfg: AMCCLConfig, b: int = 6, padded: bool = True, seed: int = 0) -> dict:
    return random_batch(cfg, b, seed, padded, lengths="short")


LABELS = torch.tensor([-2.4, -0.6, 0.0, 0.4, 1.2, 2.8])


@pytest.fixture(scope="module")
def full_model() -> AMCCL:
    torch.manual_seed(0)
    return AMCCL(base_cfg()).eval()


def variant_model(full: AMCCL, name: str) -> tuple[AMCCL, set[str]]:
    """The variant's model with full's weights where names and shapes match; returns the
    names that could not be copied (the parts the variant replaces)."""
    torch.manual_seed(1)
    model = AMCCL(apply_variant(full.cfg, name)).eval()
    source = full.state_dict()
    own = model.state_dict()
    shared = {k: v for k, v in source.items() if k in own and own[k].shape == v.shape}
    model.load_state_dict(shared, strict=False)
    return model, set(own) - set(shared)


def shapes(model: AMCCL) -> dict[str, tuple]:
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@torch.no_grad()
def unimodal(model: AMCCL, batch: dict):
    h_t, g_t = model.encode_text(batch["text"])
    h_a, g_a = model.encode_audio(batch["audio"], batch["audio_lengths"])
    h_v, g_v = model.encode_vision(batch["vision"], batch["vision_lengths"])
    return (h_t, h_a, h_v), (g_t, g_a, g_v)


def test_no_se_has_no_se_parameters_and_skips_only_the_se_block(full_model):
    model, fresh = variant_model(full_model, "no_se")
    assert model.AMC.se_block is None and fresh == set()
    missing = set(shapes(full_model)) - set(shapes(model))
    assert missing and all(k.startswith("AMC.se_block.") for k in missing)
    batch = make_batch(full_model.cfg)
    with torch.no_grad():
        hs, gates = unimodal(model, batch)
        assert all(torch.equal(a, b) for a, b in zip(hs + gates, sum(unimodal(full_model, batch), ())))
        x = torch.stack(hs, dim=2)
        amc = full_model.AMC
        w = amc.kernel_size_predictor(x)
        by_hand = torch.cat([getattr(amc, f"conv{k}")(x) * w[:, i].view(-1, 1, 1)
                             for i, k in enumerate((1, 3, 5))], 1).mean(2)  # no SE rescaling
        torch.testing.assert_close(model.AMC(x), by_hand, rtol=0, atol=0)
        assert not torch.allclose(full_model.AMC(x), by_hand)  # the SE block did something


@pytest.mark.parametrize("k", [1, 3, 5])
def test_single_kernel_has_one_branch_with_d_channels(full_model, k):
    model, fresh = variant_model(full_model, f"kernel_{k}")
    d = full_model.cfg.post_dim
    convs = [n for n, _ in model.AMC.named_children() if n.startswith("conv")]
    assert convs == [f"conv{k}"]
    conv = getattr(model.AMC, f"conv{k}")
    assert (conv.in_channels, conv.out_channels, conv.kernel_size, conv.padding) == (d, d, (k,), (k // 2,))
    # only the branch and the (one-way) kernel-weight layer differ from the full model
    assert fresh == {f"AMC.conv{k}.weight", f"AMC.conv{k}.bias",
                     "AMC.kernel_size_predictor.2.weight", "AMC.kernel_size_predictor.2.bias"}
    batch = make_batch(full_model.cfg)
    with torch.no_grad():
        hs, _ = unimodal(model, batch)
        x = torch.stack(hs, dim=2)
        assert torch.equal(model.AMC.kernel_weights(x), torch.ones(x.size(0), 1))  # softmax over one branch
        by_hand = full_model.AMC.se_block(conv(x)).mean(2)  # full's SE block, copied
        torch.testing.assert_close(model.AMC(x), by_hand, rtol=0, atol=0)


def test_full_model_has_three_branches_summing_to_d(full_model):
    d = full_model.cfg.post_dim
    outs = [getattr(full_model.AMC, f"conv{k}").out_channels for k in (1, 3, 5)]
    assert outs == kernel_channels(d, 3) and sum(outs) == d
    assert full_model.AMC.se_block is not None and full_model.AMC.kernel_size_predictor is not None


def test_fixed_kernel_weights_weigh_each_branch_one_third(full_model):
    model, fresh = variant_model(full_model, "fixed_kernel_weights")
    assert model.AMC.kernel_size_predictor is None and fresh == set()
    missing = set(shapes(full_model)) - set(shapes(model))
    assert missing == {"AMC.kernel_size_predictor.2.weight", "AMC.kernel_size_predictor.2.bias"}
    batch = make_batch(full_model.cfg)
    with torch.no_grad():
        hs, _ = unimodal(model, batch)
        x = torch.stack(hs, dim=2)
        amc = full_model.AMC
        by_hand = amc.se_block(torch.cat([getattr(amc, f"conv{k}")(x) / 3 for k in (1, 3, 5)], 1)).mean(2)
        torch.testing.assert_close(model.AMC(x), by_hand)
        torch.testing.assert_close(model.AMC.kernel_weights(x), torch.full((x.size(0), 3), 1 / 3))


def test_concat_fusion_has_no_amc_and_feeds_the_concatenation(full_model):
    model, fresh = variant_model(full_model, "concat_fusion")
    d, f = full_model.cfg.post_dim, full_model.cfg.post_fusion_dim
    assert model.AMC is None and not any(k.startswith("AMC.") for k in shapes(model))
    assert fresh == {"post_fusion_layer_skip_connection.weight"}  # (3f, 6d) instead of (3f, 4d)
    assert model.post_fusion_layer_skip_connection.weight.shape == (3 * f, 6 * d)
    batch = make_batch(full_model.cfg)
    with torch.no_grad():
        hs, gates = unimodal(model, batch)
        assert torch.equal(model.fuse(*hs), torch.cat(hs, 1))
        out = model(**batch)
        m, feature_f = model.head(torch.cat(hs, 1), gates)
        assert torch.equal(out["M"], m) and torch.equal(out["Feature_f"], feature_f)


@pytest.mark.parametrize("name", sorted(LOSS_VARIANTS))
def test_loss_variants_leave_the_model_alone(full_model, name):
    model, fresh = variant_model(full_model, name)
    assert shapes(model) == shapes(full_model) and fresh == set()
    batch = make_batch(full_model.cfg)
    with torch.no_grad():
        a, b = full_model(**batch), model(**batch)
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize("name", sorted(PADDING_VARIANTS))
def test_padding_variants_change_only_what_padding_touches(full_model, name):
    model, fresh = variant_model(full_model, name)
    assert shapes(model) == shapes(full_model) and fresh == set()
    with torch.no_grad():
        clean = make_batch(full_model.cfg, padded=False)  # no padding anywhere: identical outputs
        a, b = full_model(**clean), model(**clean)
        for key in a:
            if name == "padding_mask":  # an all-False mask takes another attention kernel: rounding only
                torch.testing.assert_close(b[key], a[key], rtol=1e-5, atol=1e-6)
            elif name == "last_valid_step":  # the gathered rows are contiguous, states[:, -1] is a
                # strided view: the Linear after it takes another BLAS path, so rounding only
                torch.testing.assert_close(b[key], a[key], rtol=1e-6, atol=1e-7)
            else:
                assert torch.equal(a[key], b[key])
        padded = make_batch(full_model.cfg, padded=True)
        (ht, ha, hv), gates = unimodal(model, padded)
        (ht0, ha0, hv0), gates0 = unimodal(full_model, padded)
    assert torch.equal(ht, ht0)  # the [CLS] vector never depends on these switches
    if name == "masked_means":  # only the gates move; h_a, h_v still read index -1
        assert torch.equal(ha, ha0) and torch.equal(hv, hv0)
        with torch.no_grad():  # by hand: each gate of the mean over valid steps only
            text_states = full_model.text_model(padded["text"])
            keep = padded["text"][:, 1].unsqueeze(2)
            by_hand = [full_model.text_skip_net((text_states * keep).sum(1) / keep.sum(1))]
            for enc, gate, x, n in ((full_model.audio_model, full_model.audio_skip_net, "audio", "audio_lengths"),
                                    (full_model.video_model, full_model.video_skip_net, "vision", "vision_lengths")):
                states = enc(padded[x])
                valid = (torch.arange(states.size(1))[None, :] < padded[n][:, None]).float().unsqueeze(2)
                by_hand.append(gate((states * valid).sum(1) / valid.sum(1)))
        for g, expected in zip(gates, by_hand):
            torch.testing.assert_close(g, expected)
        assert not torch.allclose(gates[0], gates0[0]) and not torch.allclose(gates[2], gates0[2])
    elif name == "last_valid_step":  # only h_a, h_v move; gates still average every step
        assert all(torch.equal(g, g0) for g, g0 in zip(gates, gates0))
        states = full_model.audio_model(padded["audio"])
        last = states[torch.arange(states.size(0)), padded["audio_lengths"] - 1]
        torch.testing.assert_close(ha, torch.relu(full_model.post_audio_layer_1(last)))
    else:  # padding_mask: audio/vision encoders change, text is untouched
        assert torch.equal(gates[0], gates0[0])
        assert not torch.allclose(ha, ha0) and not torch.allclose(gates[2], gates0[2])
        with torch.no_grad():  # by hand: full's audio transformer with padded frames masked as keys
            enc = full_model.audio_model
            pad = torch.arange(padded["audio"].size(1))[None, :] >= padded["audio_lengths"][:, None]
            states = enc.transformer_encoder(enc.position_embbeding(padded["audio"]), src_key_padding_mask=pad)
            torch.testing.assert_close(model.audio_model(padded["audio"], padded["audio_lengths"]), states)
        assert model.audio_model.padding_mask and model.video_model.padding_mask


# --- the loss on the same outputs ------------------------------------------------------------
@pytest.fixture(scope="module")
def outputs(full_model):
    with torch.no_grad():
        return full_model(**make_batch(full_model.cfg))


def same(value: float):
    """Equal up to float32 rounding (a loss may sum its terms in another order)."""
    return pytest.approx(value, rel=1e-6, abs=1e-7)


def parts(cfg: AMCCLConfig, outputs) -> dict[str, float]:
    return {k: v.item() for k, v in amccl_loss(outputs, LABELS, cfg).items()}


def pair_nll(outputs, weights: torch.Tensor, temperature: float):
    """-log(exp(P S / T) / Σ exp(S / T)) matrices (B, B) for the 3 inter and 3 intra pairs."""
    feats = {m: F.normalize(outputs[f"Feature_{m}"].float(), dim=1) for m in "tav"}
    pairs = [("v", "a"), ("v", "t"), ("t", "a"), ("v", "v"), ("a", "a"), ("t", "t")]
    out = []
    for a, b in pairs:
        sim = feats[a] @ feats[b].t() / temperature
        out.append(torch.logsumexp(sim, 1, keepdim=True) - weights * sim)
    return out


def test_no_cl_is_the_l1_loss(outputs):
    cfg = base_cfg()
    full, var = parts(cfg, outputs), parts(apply_variant(cfg, "no_cl"), outputs)
    assert var["loss"] == var["l1"] == same(full["l1"])
    assert var["loss"] == pytest.approx(full["loss"] - cfg.gamma * full["contrastive"], rel=1e-6)


def test_no_refine_removes_lambda_times_refine_and_nothing_else(outputs):
    cfg = base_cfg()
    full, var = parts(cfg, outputs), parts(apply_variant(cfg, "no_refine"), outputs)
    assert var["l1"] == same(full["l1"]) and var["margin"] == same(full["margin"])
    assert var["refine"] == pytest.approx(full["refine"], rel=1e-6)  # reported before lambda_refine
    removed = (full["inter"] - var["inter"]) + (full["intra"] - var["intra"])
    assert removed == pytest.approx(cfg.lambda_refine * full["refine"], rel=1e-4, abs=1e-5)
    assert abs(removed) > 1e-3


def test_no_margin_removes_the_margin_from_inter_only(outputs):
    cfg = base_cfg()
    full, var = parts(cfg, outputs), parts(apply_variant(cfg, "no_margin"), outputs)
    assert var["margin"] == 0.0 and full["margin"] > 0
    assert var["intra"] == same(full["intra"]) and var["refine"] == same(full["refine"]) and var["l1"] == same(full["l1"])
    assert var["inter"] == pytest.approx(full["inter"] - full["margin"], rel=1e-6)
    assert var["contrastive"] == pytest.approx(full["contrastive"] - cfg.inter_weight * full["margin"], rel=1e-6)


@pytest.mark.parametrize("name,kept,weight", [("no_inter", "intra", "intra_weight"),
                                               ("no_intra", "inter", "inter_weight")])
def test_no_inter_and_no_intra_drop_one_sum(outputs, name, kept, weight):
    cfg = base_cfg()
    full, var = parts(cfg, outputs), parts(apply_variant(cfg, name), outputs)
    for key in ("l1", "inter", "intra", "refine", "margin"):  # the parts are still reported, unchanged
        assert var[key] == same(full[key])
    assert var["contrastive"] == pytest.approx(getattr(cfg, weight) * full[kept], rel=1e-6)
    assert var["loss"] == pytest.approx(full["l1"] + cfg.gamma * var["contrastive"], rel=1e-6)


def hand_parts(outputs, cfg: AMCCLConfig, weights: torch.Tensor) -> dict[str, float]:
    """docs/model.md §3 written out for a given positive-weight matrix P (labels: LABELS)."""
    feats = {m: F.normalize(outputs[f"Feature_{m}"].float(), dim=1) for m in "tav"}
    w = {(a, b): (weights * (feats[a] @ feats[b].t())).mean() for a in "tav" for b in "tav"}
    nll = dict(zip([("v", "a"), ("v", "t"), ("t", "a"), ("v", "v"), ("a", "a"), ("t", "t")],
                   pair_nll(outputs, weights, cfg.temperature)))
    positive = (weights > 0).float()
    contrast = {k: (v * positive).sum() / positive.sum() if cfg.contrastive_mean == "positives" else v.mean()
                for k, v in nll.items()}
    pair = {k: contrast[k] - cfg.lambda_refine * w[k] for k in nll}
    margin = {(a, b): torch.relu(cfg.alpha - ((w[a, a] + w[b, b]) / 2 - w[a, b])) * cfg.use_margin
              for a, b in (("v", "a"), ("v", "t"), ("t", "a"))}
    inter = sum(pair[k] + margin[k] for k in margin)
    intra = sum(pair[m, m] for m in "vat")
    l1 = (outputs["M"].reshape(-1) - LABELS).abs().mean()
    contrastive = cfg.inter_weight * inter + cfg.intra_weight * intra
    values = dict(loss=l1 + cfg.gamma * contrastive, l1=l1, contrastive=contrastive, inter=inter, intra=intra,
                  refine=-sum(w[k] for k in nll), margin=sum(margin.values()))
    return {k: float(v) for k, v in values.items()}


def test_polarity_only_swaps_the_positive_weights_for_binary_polarity(outputs):
    from amccl.losses import positive_weights

    cfg = base_cfg()
    var_cfg = apply_variant(cfg, "polarity_only")
    binary = positive_weights(LABELS, var_cfg)
    sign = torch.sign(LABELS)
    assert torch.equal(binary, (sign[:, None] == sign[None, :]).float())  # binary, by polarity only
    weighted = positive_weights(LABELS, cfg)
    assert not torch.equal(binary, weighted)
    # the same formula with only P swapped gives the full model's parts and the variant's parts
    full, var = parts(cfg, outputs), parts(var_cfg, outputs)
    assert full == pytest.approx(hand_parts(outputs, cfg, weighted), rel=1e-5, abs=1e-6)
    assert var == pytest.approx(hand_parts(outputs, cfg, binary), rel=1e-5, abs=1e-6)
    assert var["l1"] == same(full["l1"]) and var["contrastive"] != pytest.approx(full["contrastive"])


def test_positives_mean_averages_the_contrastive_term_over_positives_only(outputs):
    from amccl.losses import positive_weights

    cfg = base_cfg()
    full, var = parts(cfg, outputs), parts(apply_variant(cfg, "positives_mean"), outputs)
    for key in ("l1", "refine", "margin"):
        assert var[key] == same(full[key])
    weights = positive_weights(LABELS, cfg)
    positive = (weights > 0).float()
    shift = [(nll * positive).sum().item() / positive.sum().item() - nll.mean().item()
             for nll in pair_nll(outputs, weights, cfg.temperature)]
    assert var["inter"] - full["inter"] == pytest.approx(sum(shift[:3]), rel=1e-4)
    assert var["intra"] - full["intra"] == pytest.approx(sum(shift[3:]), rel=1e-4)
    assert abs(sum(shift)) > 1e-3
    assert var == pytest.approx(hand_parts(outputs, apply_variant(cfg, "positives_mean"), weights),
                                rel=1e-5, abs=1e-6)
