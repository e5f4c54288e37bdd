"""The fast paths give the reference numbers.

Complements tests/test_losses.py (batched == literal at MOSI / MOSEI-d / SIMS sizes for the
four loss variants) and tests/test_model.py (trimmed audio, cached text): here the paper's
batch sizes, low temperatures, gradients of every part, dead feature rows, half-precision
inputs and autocast, a second backward, no host-device sync on a GPU, and trimming of whole
batches from the loader through the model, the loss and the gradients.
"""

import numpy as np
import pytest
import torch

from amccl import AMCCL, AMCCLConfig
from amccl.losses import LOSS_PARTS, amccl_loss
from tests.literal_loss import literal_amccl_loss


def make_case(dataset="mosi", batch=None, dim=None, seed=0, device="cpu", dtype=torch.float32, **overrides):
    cfg = AMCCLConfig.for_dataset(dataset, **overrides)
    batch, dim = batch or cfg.batch_size, dim or cfg.post_dim
    g = torch.Generator().manual_seed(seed)
    scale = cfg.label_range
    labels = torch.round(torch.empty(batch).uniform_(-scale, scale, generator=g) * 5) / 5  # ties
    labels[: min(3, batch)] = 0.0  # neutral clips: sign(0) is its own polarity
    feats = [torch.relu(torch.randn(batch, dim, generator=g)).to(device, dtype).requires_grad_() for _ in range(3)]
    m = torch.randn(batch, 1, generator=g).to(device, dtype).requires_grad_()
    outputs = {"Feature_t": feats[0], "Feature_a": feats[1], "Feature_v": feats[2], "M": m}
    return cfg, outputs, labels.to(device), feats + [m]


def float_copy(outputs):
    return {k: v.detach().float().requires_grad_() for k, v in outputs.items()}


def grads_of(parts, leaves, weights=None):
    weights = weights or {"loss": 1.0}
    total = sum(w * parts[k] for k, w in weights.items())
    return torch.autograd.grad(total, leaves, allow_unused=True, materialize_grads=True)


def assert_same(fast, slow, g_fast, g_slow, loss_rel=1e-6, rel=1e-5, grad_rtol=1e-4):
    assert fast["loss"].item() == pytest.approx(slow["loss"].item(), rel=loss_rel)
    for key in LOSS_PARTS:
        assert fast[key].dtype == torch.float32, key
        assert fast[key].item() == pytest.approx(slow[key].item(), rel=rel, abs=1e-6), key
    for gf, gs in zip(g_fast, g_slow):
        scale = gs.abs().max().clamp_min(1e-30)
        assert ((gf.float() - gs.float()).abs().max() <= grad_rtol * scale + 1e-6).item()


LEAVES = ("Feature_t", "Feature_a", "Feature_v", "M")


@pytest.mark.parametrize("dataset,variant", [
    ("mosei", {}),  # the paper's MOSEI batch: B = 128, d = 128
    ("mosei", {"contrastive_mean": "positives", "positives": "polarity"}),
    ("mosi", {}),
    ("sims", {"contrastive_mean": "positives", "use_margin": False}),
])
def test_loss_equals_literal_at_paper_sizes(dataset, variant):
    cfg, outputs, labels, leaves = make_case(dataset, **variant)
    fast = amccl_loss(outputs, labels, cfg)
    slow = literal_amccl_loss(outputs, labels, cfg)
    assert_same(fast, slow, grads_of(fast, leaves), grads_of(slow, leaves))


@pytest.mark.parametrize("temperature", [0.0125, 0.005])
def test_low_temperature_stays_finite_and_matches(temperature):
    # 1/T > 70: the literal path overflows float32: at T = 0.0125 (gain 1, e^80) its values
    # still fit but its backward (num / den² in the log of a ratio) does not; at T = 0.005 its
    # values are NaN. The batched loss (logsumexp) stays finite, values and gradients.
    cfg, outputs, labels, leaves = make_case("mosi", temperature=temperature, gain=1.0)
    fast = amccl_loss(outputs, labels, cfg)
    literal = literal_amccl_loss(outputs, labels, cfg)
    assert torch.isfinite(fast["loss"])
    if temperature > 0.01:
        assert fast["loss"].item() == pytest.approx(literal["loss"].item(), rel=1e-6)
    else:
        assert torch.isnan(literal["loss"])
    assert all(torch.isfinite(g).all() for g in grads_of(fast, leaves))


def test_gradients_of_every_part_match_literal():
    cfg, outputs, labels, leaves = make_case("mosi", batch=24, dim=16, seed=3)
    weights = dict(zip(LOSS_PARTS, torch.linspace(-1.0, 2.0, len(LOSS_PARTS)).tolist()))
    fast = amccl_loss(outputs, labels, cfg)
    slow = literal_amccl_loss(outputs, labels, cfg)
    assert_same(fast, slow, grads_of(fast, leaves, weights), grads_of(slow, leaves, weights))
    for key in LOSS_PARTS:  # one part alone, e.g. backpropagating only the margin
        g_fast = grads_of(amccl_loss(outputs, labels, cfg), leaves, {key: 1.0})
        g_slow = grads_of(literal_amccl_loss(outputs, labels, cfg), leaves, {key: 1.0})
        for gf, gs in zip(g_fast, g_slow):
            assert torch.allclose(gf, gs, rtol=1e-4, atol=1e-6), key


def test_dead_feature_rows_and_tiny_batches():
    for batch in (1, 2, 5):
        cfg, outputs, labels, leaves = make_case("mosi", batch=batch, dim=8, seed=batch)
        with torch.no_grad():
            outputs["Feature_a"][0] = 0.0  # a ReLU-dead row: F.normalize keeps it at 0
            outputs["Feature_t"][-1] = 0.0
        fast = amccl_loss(outputs, labels, cfg)
        slow = literal_amccl_loss(outputs, labels, cfg)
        assert_same(fast, slow, grads_of(fast, leaves), grads_of(slow, leaves))


def test_bfloat16_inputs_and_autocast_still_give_the_float32_loss():
    cfg, outputs, labels, leaves = make_case("mosi", dtype=torch.bfloat16)
    fast = amccl_loss(outputs, labels, cfg)
    reference = float_copy(outputs)
    slow = literal_amccl_loss(reference, labels, cfg)
    g_fast = grads_of(fast, leaves)
    assert all(g.dtype == torch.bfloat16 for g in g_fast)
    assert_same(fast, slow, g_fast, grads_of(slow, [reference[k] for k in LEAVES]), grad_rtol=1e-2)
    # inside an autocast region the loss still runs in float32 (the trainer calls it outside);
    # the backward runs outside the region, as PyTorch advises and the trainer does
    cfg, outputs, labels, leaves = make_case("mosi")
    slow = literal_amccl_loss(outputs, labels, cfg)
    g_slow = grads_of(slow, leaves)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        fast = amccl_loss(outputs, labels, cfg)
    g_fast = grads_of(fast, leaves)
    assert_same(fast, slow, g_fast, g_slow)


def test_second_backward_with_retained_graph_gives_the_same_gradients():
    cfg, outputs, labels, leaves = make_case("mosi")
    loss = amccl_loss(outputs, labels, cfg)["loss"]
    first = torch.autograd.grad(loss, leaves, retain_graph=True)
    second = torch.autograd.grad(loss, leaves)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_loss_makes_no_host_device_sync_on_a_gpu():
    cfg, outputs, labels, leaves = make_case("mosi", device="cuda")
    amccl_loss(outputs, labels, cfg)["loss"].backward()  # warm-up (CUDA context, kernels)
    previous = torch.cuda.get_sync_debug_mode()
    torch.cuda.set_sync_debug_mode("error")
    try:
        parts = amccl_loss(outputs, labels, cfg)
        parts["loss"].backward()
    finally:
        torch.cuda.set_sync_debug_mode(previous)
    slow = literal_amccl_loss(outputs, labels, cfg)
    assert parts["loss"].item() == pytest.approx(slow["loss"].item(), rel=1e-5)


def test_trimmed_loader_batches_give_the_untrimmed_outputs_loss_and_gradients():
    """With the three padding fixes, BatchLoader(trim=True) batches (audio and vision cut to
    the batch's longest length) give the same outputs, loss and gradients in training mode."""
    from amccl.data.batching import make_batch
    from amccl.data.types import MMSASplit

    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random", padding_mask=True, last_valid_step=True,
                                  masked_means=True, encoder_dropout=0.0, dropout_unimodal=0.0, dropout_fusion=0.0)
    assert cfg.padding_irrelevant
    rng = np.random.default_rng(0)
    n, lt, la, lv = 12, cfg.text_len, cfg.audio_len, cfg.vision_len
    mask = (np.arange(lt)[None] < rng.integers(3, lt, n)[:, None]).astype(np.int64)
    ids = rng.integers(1000, 2000, (n, lt)) * mask
    split = MMSASplit(
        name="train", text=np.stack([ids, mask, np.zeros_like(ids)], 1),
        audio=rng.standard_normal((n, la, cfg.audio_dim), dtype=np.float32),
        vision=rng.standard_normal((n, lv, cfg.vision_dim), dtype=np.float32),
        audio_lengths=rng.integers(5, 31, n), vision_lengths=rng.integers(5, 41, n),
        labels=rng.uniform(-3, 3, n).astype(np.float32), raw_text=np.array(["x"] * n),
        ids=np.array([str(i) for i in range(n)]),
    )
    index = torch.arange(n)
    full, cut = make_batch(split, index), make_batch(split, index, trim=True)
    assert cut["audio"].shape[1] < la and cut["vision"].shape[1] < lv  # something was trimmed
    torch.manual_seed(0)
    model = AMCCL(cfg).train()
    results = []
    for batch in (full, cut):
        model.zero_grad(set_to_none=True)
        torch.manual_seed(1)  # the same dropout draws in the text encoder
        inputs = {k: batch[k] for k in ("text", "audio", "vision", "audio_lengths", "vision_lengths")}
        outputs = model(**inputs)
        loss = amccl_loss(outputs, batch["labels"], cfg)["loss"]
        loss.backward()
        grads = {name: p.grad.clone() for name, p in model.named_parameters() if p.grad is not None}
        results.append((outputs, loss, grads))
    (out_full, loss_full, g_full), (out_cut, loss_cut, g_cut) = results
    for key in out_full:
        assert torch.allclose(out_full[key], out_cut[key], atol=1e-5), key
    assert loss_cut.item() == pytest.approx(loss_full.item(), rel=1e-6)
    assert g_full.keys() == g_cut.keys()
    for name in g_full:
        scale = g_full[name].abs().max()
        assert ((g_full[name] - g_cut[name]).abs().max() <= 1e-4 * scale + 1e-7).item(), name
