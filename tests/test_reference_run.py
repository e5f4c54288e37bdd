"""One seed, one run (docs/model.md §8): initial weights, dropout masks and data order are the reference's.

Each test rebuilds what the reference does from docs/model.md alone (§2, §4, §8 and the appendix)
and compares it with ours bit for bit: the reference's layer sequence, its forward pass, a
``DataLoader(dataset, B, shuffle=True)`` per pass, and a plain training loop.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from amccl.bert import load_bert
from amccl.config import AMCCLConfig
from amccl.data import BatchLoader, MMSADataset
from amccl.evaluation import MODEL_INPUTS
from amccl.fusion import kernel_channels
from amccl.losses import amccl_loss
from amccl.metrics import compute_metrics
from amccl.model import AMCCL
from amccl.optim import build_optimizer
from amccl.runtime import seed_everything
from amccl.train import fit


def _reference_layers(cfg: AMCCLConfig) -> dict[str, nn.Module]:
    """The reference's modules in its construction order (docs/model.md §8.2), named as our keys."""
    d, f, r = cfg.post_dim, cfg.post_fusion_dim, cfg.skip_net_reduction
    layers: dict[str, nn.Module] = {"text_model.model": load_bert(cfg.text_encoder)}
    hidden = layers["text_model.model"].config.hidden_size
    for name, dim, heads in (("audio_model", cfg.audio_dim, cfg.audio_heads),
                             ("video_model", cfg.vision_dim, cfg.vision_heads)):
        template = nn.TransformerEncoderLayer(dim, heads, batch_first=True)  # 2048, ReLU, 0.1
        layers[f"{name}.transformer_encoder"] = nn.TransformerEncoder(template, cfg.layers, enable_nested_tensor=False)
    layers["unused.post_fusion_layer_1"] = nn.Linear(3 * d, f)
    layers["AMC.kernel_size_predictor.2"] = nn.Linear(d, 3)
    for k, channels in zip((1, 3, 5), kernel_channels(d, 3)):
        layers[f"AMC.conv{k}"] = nn.Conv1d(d, channels, k, padding=k // 2)
    layers["AMC.se_block.fc.0"] = nn.Linear(d, d // 16)
    layers["AMC.se_block.fc.2"] = nn.Linear(d // 16, d)
    layers["unused.skip_connection_BatchNorm"] = nn.BatchNorm1d(3 * f)
    layers["post_fusion_layer_skip_connection"] = nn.Linear(4 * d, 3 * f)
    layers["post_fusion_layer_2"] = nn.Linear(3 * f, 2 * f)
    layers["post_fusion_layer_3"] = nn.Linear(2 * f, 1)
    layers["fusionBatchNorm"] = nn.BatchNorm1d(2 * f)
    for name, c in (("text", hidden), ("audio", cfg.audio_dim), ("video", cfg.vision_dim)):
        layers[f"{name}_skip_net.fc.0"] = nn.Linear(c, c // r)
        layers[f"{name}_skip_net.fc.2"] = nn.Linear(c // r, d, bias=False)
        layers[f"post_{name}_layer_1"] = nn.Linear(c, d)
        layers[f"unused.post_{name}_layer_2"] = nn.Linear(d, d)
    return layers


def _reference_state(cfg: AMCCLConfig, seed: int) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    state = {}
    for prefix, module in _reference_layers(cfg).items():
        if not prefix.startswith("unused."):
            state.update({f"{prefix}.{k}": v for k, v in module.state_dict().items()})
    return state


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_initial_weights_are_the_reference_construction_order(dataset):
    cfg = AMCCLConfig.for_dataset(dataset, profile="smoke", text_encoder="tiny-random")
    expected = _reference_state(cfg, seed=8921)
    torch.manual_seed(8921)
    ours = {k: v for k, v in AMCCL(cfg).state_dict().items() if not k.endswith("position_embbeding.pe")}
    assert sorted(ours) == sorted(expected)  # no unused layer kept as a parameter
    different = [k for k in ours if not torch.equal(ours[k], expected[k])]
    assert not different, different[:5]
    torch.manual_seed(8922)
    assert not torch.equal(AMCCL(cfg).post_fusion_layer_2.weight, ours["post_fusion_layer_2.weight"])


def _batch(cfg: AMCCLConfig, b: int = 6) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 2000, (b, cfg.text_len), generator=g)
    mask = torch.ones(b, cfg.text_len, dtype=torch.long)
    return dict(
        text=torch.stack([ids, mask, torch.zeros_like(ids)], 1),
        audio=torch.randn(b, cfg.audio_len, cfg.audio_dim, generator=g),
        vision=torch.randn(b, cfg.vision_len, cfg.vision_dim, generator=g),
    )


def _reference_forward(model: AMCCL, text, audio, vision) -> torch.Tensor:
    """docs/model.md §2 in §8.5's order: the three encoders, the unimodal dropouts, the fusion dropout."""
    t = model.text_model(text)
    a = model.audio_model(audio)
    v = model.video_model(vision)
    h_t = torch.relu(model.post_text_layer_1(model.post_text_dropout(t[:, 0])))
    h_a = torch.relu(model.post_audio_layer_1(model.post_audio_dropout(a[:, -1])))
    h_v = torch.relu(model.post_video_layer_1(model.post_video_dropout(v[:, -1])))
    gates = [model.text_skip_net(t.mean(1)), model.audio_skip_net(a.mean(1)), model.video_skip_net(v.mean(1))]
    amc = model.AMC(torch.stack([h_t, h_a, h_v], dim=2))
    fused = model.post_fusion_layer_skip_connection(model.post_fusion_dropout(torch.cat([amc, *gates], 1)))
    return model.post_fusion_layer_3(model.fusionBatchNorm(torch.relu(model.post_fusion_layer_2(fused))))


def test_train_mode_forward_draws_the_reference_dropout_masks():
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", dropout_unimodal=0.5,
                                  dropout_fusion=0.5)
    model = AMCCL(cfg).train()
    batch = _batch(cfg)
    torch.manual_seed(3)
    ours = model(**batch)["M"]
    torch.manual_seed(3)
    expected = _reference_forward(model, **batch)
    assert torch.equal(ours, expected)
    torch.manual_seed(4)
    assert not torch.equal(model(**batch)["M"], expected)  # the masks do matter


def test_dropout_calls_come_in_the_reference_order():
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")
    model = AMCCL(cfg).train()
    calls: list[str] = []
    for name, module in model.named_modules():
        if isinstance(module, nn.Dropout):
            module.register_forward_pre_hook(lambda m, args, name=name: calls.append(name))
    model(**_batch(cfg))
    stage = [next(i for i, p in enumerate(("text_model.", "audio_model.", "video_model.", "post_text_dropout",
                                            "post_audio_dropout", "post_video_dropout", "post_fusion_dropout"))
                  if c.startswith(p)) for c in calls]
    assert stage == sorted(stage) and set(stage) == set(range(7)), calls


def _reference_pass(dataset, batch_size: int) -> list[dict[str, torch.Tensor]]:
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True)
    return list(loader)


def test_two_passes_draw_what_a_shuffling_dataloader_draws(tiny_data):
    split = tiny_data.train
    torch.manual_seed(5)
    expected = [_reference_pass(MMSADataset(split), 10) for _ in range(2)]
    after = torch.rand(3)
    torch.manual_seed(5)
    ours = [list(BatchLoader(split, 10, shuffle=True)) for _ in range(2)]
    assert torch.equal(torch.rand(3), after)  # the global generator moved as far
    assert [len(p) for p in ours] == [len(p) for p in expected] == [5, 5]
    for got_pass, want_pass in zip(ours, expected):
        for got, want in zip(got_pass, want_pass):
            assert got.keys() == want.keys()
            assert all(torch.equal(got[k], want[k]) for k in want)
    assert not torch.equal(ours[0][0]["index"], ours[1][0]["index"])  # a new order each pass


def _reference_fit(cfg: AMCCLConfig, data, seed: int) -> tuple[list[tuple[float, float]], int, dict]:
    """A plain reference run (docs/model.md §4, §8) with ``DataLoader``s: per-epoch (valid loss, MAE),
    the best epoch and the test metrics."""
    seed_everything(seed)
    loaders = {name: torch.utils.data.DataLoader(MMSADataset(getattr(data, name)), cfg.batch_size, shuffle=True)
               for name in ("train", "valid", "test")}
    model = AMCCL(cfg)
    optimizer, scheduler = build_optimizer(model, cfg, len(loaders["train"]) * cfg.epochs)
    for _ in loaders["train"]:  # "initialise labels"
        pass

    def score(name):
        model.eval()
        preds, trues, losses = [], [], []
        with torch.no_grad():
            for batch in loaders[name]:
                m = model(**{k: batch[k] for k in MODEL_INPUTS if k in batch})["M"].reshape(-1)
                losses.append(float((m - batch["labels"]).abs().mean()))
                preds.append(m.numpy())
                trues.append(batch["labels"].numpy())
        return float(np.mean(losses)), compute_metrics(np.concatenate(preds), np.concatenate(trues), cfg.dataset)

    epochs, best, best_mae, best_state = [], 0, float("inf"), None
    for epoch in range(1, cfg.epochs + 1):
        model.train()
        for batch in loaders["train"]:
            out = model(**{k: batch[k] for k in MODEL_INPUTS if k in batch})
            loss = amccl_loss(out, batch["labels"], cfg)["loss"]
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            scheduler.step()
        loss, metrics = score("valid")
        epochs.append((loss, metrics["MAE"]))
        if metrics["MAE"] < best_mae:
            best, best_mae = epoch, metrics["MAE"]
            best_state = {k: v.clone() for k, v in model.state_dict().items()}
        if epoch - best >= cfg.early_stop:
            break
    model.load_state_dict(best_state)
    return epochs, best, score("test")[1]


def test_fit_is_the_reference_run_epoch_by_epoch(tiny_data):
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", epochs=3, early_stop=3)
    epochs, best, test = _reference_fit(cfg, tiny_data, seed=8921)
    history = fit(cfg, tiny_data, seed=8921, progress=False)
    ours = [(r["valid_loss"], r["valid_MAE"]) for r in history.epochs]
    np.testing.assert_allclose(ours, epochs, rtol=1e-5, atol=1e-6)  # float summation order only
    assert history.best_epoch == best
    for key, value in test.items():
        assert history.test_metrics[key] == pytest.approx(value, abs=1e-4), key
    other = fit(cfg, tiny_data, seed=8922, progress=False)
    assert [r["valid_loss"] for r in other.epochs] != [e[0] for e in epochs]
