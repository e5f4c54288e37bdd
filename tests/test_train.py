"""The trainer (docs/model.md §4): optimizer groups, schedule, early stopping, seeds, guards, results."""

from __future__ import annotations

import io
import logging
import math

import numpy as np
import pandas as pd
import pytest
import torch

import amccl.evaluation as evaluation
import amccl.train as train
from amccl.config import AMCCLConfig
from amccl.evaluation import evaluate_split
from amccl.metrics import compute_metrics, primary_metrics
from amccl.model import AMCCL
from amccl.optim import build_optimizer
from amccl.results import summarize
from amccl.runtime import get_logger, seed_everything
from amccl.train import NonFiniteLossError, fit, run_seeds

DISTINCT = dict(lr_bert=1e-5, lr_audio=2e-4, lr_video=3e-4, lr_other=4e-4,
                wd_bert=0.1, wd_audio=0.2, wd_video=0.3, wd_other=0.4)


def _documented_group(name: str) -> str:
    """The grouping of docs/model.md §4, written independently of the trainer's code."""
    if name.startswith("text_model."):
        return "bert_no_decay" if any(s in name for s in ("bias", "LayerNorm.bias", "LayerNorm.weight")) else "bert_decay"
    for prefix, group in (("audio_model.", "audio"), ("video_model.", "video")):
        if name.startswith(prefix):
            return group
    return "other"


def test_optimizer_groups_hold_the_documented_parameters(tiny_cfg):
    cfg = tiny_cfg.replace(**DISTINCT)
    model = AMCCL(cfg)
    optimizer, _ = build_optimizer(model, cfg, total_steps=100)
    expected_hp = {"bert_decay": (1e-5, 0.1), "bert_no_decay": (1e-5, 0.0), "audio": (2e-4, 0.2),
                   "video": (3e-4, 0.3), "other": (4e-4, 0.4)}
    assert [g["name"] for g in optimizer.param_groups] == list(expected_hp)
    by_id = {id(p): n for n, p in model.named_parameters()}
    seen = []
    for group in optimizer.param_groups:
        names = [by_id[id(p)] for p in group["params"]]
        assert names == group["names"]
        assert names, f"group {group['name']} is empty"
        assert all(_documented_group(n) == group["name"] for n in names), group["name"]
        assert (group["initial_lr"], group["weight_decay"]) == expected_hp[group["name"]]
        assert group["betas"] == (0.9, 0.999) and group["eps"] == 1e-8
        seen += names
    assert sorted(seen) == sorted(by_id.values())  # every parameter exactly once
    no_decay = optimizer.param_groups[1]["names"]
    assert "text_model.model.embeddings.LayerNorm.weight" in no_decay
    assert "text_model.model.encoder.layer.0.attention.self.query.bias" in no_decay
    assert "text_model.model.encoder.layer.0.attention.self.query.weight" in optimizer.param_groups[0]["names"]
    assert "fusionBatchNorm.weight" in optimizer.param_groups[4]["names"]  # not BERT: lr_other


def test_foreach_adamw_gives_the_per_parameter_loops_weights_bit_for_bit(tiny_cfg):
    """build_optimizer's foreach AdamW (faster on a CPU) must not move a single bit of the run."""
    torch.manual_seed(0)
    ours = AMCCL(tiny_cfg)
    plain = AMCCL(tiny_cfg)
    plain.load_state_dict(ours.state_dict())
    optimizer, _ = build_optimizer(ours, tiny_cfg, total_steps=10)
    assert all(group["foreach"] for group in optimizer.param_groups)
    reference = torch.optim.AdamW([dict(g, params=[dict(plain.named_parameters())[n] for n in names])
                                   for g, names in _group_names(ours, optimizer)], foreach=False)
    g = torch.Generator().manual_seed(1)
    for _ in range(3):
        grads = [torch.randn(p.shape, generator=g) for p in ours.parameters()]
        for model, opt in ((ours, optimizer), (plain, reference)):
            for p, grad in zip(model.parameters(), grads):
                p.grad = grad.clone()
            opt.step()
    for (name, a), b in zip(ours.named_parameters(), plain.parameters()):
        assert torch.equal(a, b), name


def _group_names(model, optimizer):
    """(the group's settings without params, its parameters' names) per optimizer group."""
    names = {id(p): n for n, p in model.named_parameters()}
    return [({k: v for k, v in group.items() if k not in ("params", "foreach")}, [names[id(p)] for p in group["params"]])
            for group in optimizer.param_groups]


def test_frozen_text_leaves_bert_groups_empty(tiny_cfg):
    cfg = tiny_cfg.replace(freeze_text=True)
    model = AMCCL(cfg)
    model.text_model.requires_grad_(False)
    optimizer, _ = build_optimizer(model, cfg, total_steps=10)
    sizes = {g["name"]: len(g["params"]) for g in optimizer.param_groups}
    assert sizes["bert_decay"] == sizes["bert_no_decay"] == 0
    assert sizes["audio"] and sizes["video"] and sizes["other"]


@pytest.mark.parametrize("total", [57, 10])
def test_learning_rate_curve_is_transformers_cosine_with_warmup(tiny_cfg, total):
    from transformers import get_cosine_schedule_with_warmup

    cfg = tiny_cfg.replace(**DISTINCT)
    optimizer, scheduler = build_optimizer(AMCCL(cfg), cfg, total)
    warmup = int(0.1 * total)
    reference_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
    reference = get_cosine_schedule_with_warmup(reference_opt, warmup, total)
    for step in range(total + 1):
        factor = step / max(1, warmup) if step < warmup else \
            0.5 * (1 + math.cos(math.pi * (step - warmup) / max(1, total - warmup)))
        for group in optimizer.param_groups:
            assert group["lr"] == pytest.approx(group["initial_lr"] * max(0.0, factor), abs=1e-12)
        assert reference_opt.param_groups[0]["lr"] == pytest.approx(max(0.0, factor), abs=1e-12)
        optimizer.step()
        scheduler.step()
        reference_opt.step()
        reference.step()


def _drop_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.epochs]


def test_fit_history_records_parts_metrics_and_lrs(tiny_cfg, tiny_data):
    history = fit(tiny_cfg, tiny_data, seed=1111, progress=False)
    frame = history.to_frame()
    assert list(frame.index) == [1, 2]
    for part in ("loss", "l1", "contrastive", "inter", "intra", "refine", "margin"):
        assert np.isfinite(frame[f"train_{part}"]).all()
    # total = l1 + gamma * L_cl holds for the epoch means too (linear in the batches)
    np.testing.assert_allclose(frame.train_loss, frame.train_l1 + tiny_cfg.gamma * frame.train_contrastive, rtol=1e-5)
    for key in primary_metrics("mosi"):
        assert f"valid_{key}" in frame.columns
    assert (frame.seconds > 0).all() and "valid_loss" in frame.columns
    # lrs after epoch e follow the schedule at step e * batches (3 batches of 16, 2 epochs)
    total, warmup = 3 * tiny_cfg.epochs, int(0.1 * 3 * tiny_cfg.epochs)
    for epoch in (1, 2):
        step = 3 * epoch
        factor = 0.5 * (1 + math.cos(math.pi * (step - warmup) / (total - warmup)))
        assert frame.at[epoch, "lr_audio"] == pytest.approx(tiny_cfg.lr_audio * factor)
        assert frame.at[epoch, "lr_bert_decay"] == pytest.approx(tiny_cfg.lr_bert * factor)
    assert set(history.test_metrics) == set(primary_metrics("mosi"))
    assert history.valid_metrics["MAE"] == frame.at[history.best_epoch, "valid_MAE"]
    assert history.meta["data_sha256"] == tiny_data.sha256 and "torch_version" in history.meta
    assert list(history.test_predictions.columns) == ["id", "label", "prediction"]
    # the reported test metrics are those of the returned (best) model's predictions
    preds = history.test_predictions.prediction.to_numpy()
    assert compute_metrics(preds, tiny_data.test.labels, "mosi") == history.test_metrics
    again = evaluate_split(history.model, tiny_data.test, tiny_cfg)
    np.testing.assert_allclose(again.predictions, preds, atol=1e-6)


def test_same_seed_same_numbers_other_seed_differs(tiny_cfg, tiny_data):
    cfg = tiny_cfg.replace(epochs=1)
    a = fit(cfg, tiny_data, seed=1111, progress=False)
    b = fit(cfg, tiny_data, seed=1111, progress=False)
    c = fit(cfg, tiny_data, seed=1112, progress=False)
    assert _drop_seconds(a) == _drop_seconds(b) and a.test_metrics == b.test_metrics
    assert _drop_seconds(a) != _drop_seconds(c)


def test_early_stopping_stops_and_restores_the_best_epoch(tiny_cfg, tiny_data, monkeypatch, tmp_path):
    curve = [0.9, 0.7, 0.8, 0.7, 0.75]  # best epoch 2 (epoch 4 ties: not strictly lower)
    calls = {"n": 0}

    def crafted(pred, true, dataset):
        metrics = compute_metrics(pred, true, dataset)
        if calls["n"] < len(curve):  # the validation of epochs 1..5; then the test split
            metrics["MAE"] = curve[calls["n"]]
        calls["n"] += 1
        return metrics

    monkeypatch.setattr(evaluation, "compute_metrics", crafted)
    snapshots = {}
    cfg = tiny_cfg.replace(epochs=10, early_stop=3)
    history = fit(cfg, tiny_data, seed=1111, out_dir=tmp_path, progress=False,
                  on_epoch_end=lambda rec, model: snapshots.__setitem__(
                      rec["epoch"], {k: v.clone() for k, v in model.state_dict().items()}))
    assert [r["epoch"] for r in history.epochs] == [1, 2, 3, 4, 5]  # 5 - 2 >= 3
    assert history.best_epoch == 2 and history.stopped_early
    assert history.valid_metrics["MAE"] == 0.7
    restored = history.model.state_dict()
    assert all(torch.equal(restored[k], snapshots[2][k]) for k in restored)
    assert not all(torch.equal(restored[k], snapshots[5][k]) for k in restored)
    # the test metrics are the best epoch's model's
    best = AMCCL(cfg)
    best.load_state_dict(snapshots[2])
    expected = evaluate_split(best, tiny_data.test, cfg, "cpu")
    assert history.test_metrics == pytest.approx(expected.metrics, abs=1e-6)
    saved = torch.load(tmp_path / "best.pt", weights_only=True)
    assert saved["epoch"] == 2 and saved["metrics"]["test"] == history.test_metrics


def _kill_mid_epoch(monkeypatch, after_calls):
    real, calls = train.amccl_loss, {"n": 0}

    def dying(outputs, labels, cfg):
        calls["n"] += 1
        if calls["n"] > after_calls:
            raise KeyboardInterrupt("killed")
        return real(outputs, labels, cfg)

    monkeypatch.setattr(train, "amccl_loss", dying)


def _kill_in_test(monkeypatch, epochs):
    real, calls = evaluation.compute_metrics, {"n": 0}

    def dying(*args):
        calls["n"] += 1
        if calls["n"] > epochs:  # the validations went through; the test evaluation dies
            raise KeyboardInterrupt("killed")
        return real(*args)

    monkeypatch.setattr(evaluation, "compute_metrics", dying)


RESUME_EPOCHS = 2


@pytest.fixture(scope="module")
def whole_run(tiny_data, tmp_path_factory):
    """An uninterrupted run, the reference for the kill-and-resume tests."""
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", epochs=RESUME_EPOCHS)
    out = tmp_path_factory.mktemp("whole")
    return cfg, out, fit(cfg, tiny_data, seed=1111, out_dir=out, progress=False)


@pytest.mark.slow
@pytest.mark.parametrize("kill", ["mid-epoch", "after-epoch", "during-test"])
def test_kill_and_resume_gives_the_uninterrupted_numbers(whole_run, tiny_data, tmp_path, monkeypatch, kill):
    cfg, whole_dir, whole = whole_run
    hook = None
    with monkeypatch.context() as patch:
        if kill == "mid-epoch":
            _kill_mid_epoch(patch, after_calls=3 + 1)  # 3 batches per epoch: dies in epoch 2, batch 2
        elif kill == "during-test":
            _kill_in_test(patch, epochs=RESUME_EPOCHS)
        else:
            def hook(record, model):
                if record["epoch"] == 1:
                    raise KeyboardInterrupt("killed")
        with pytest.raises(KeyboardInterrupt):
            fit(cfg, tiny_data, seed=1111, out_dir=tmp_path, progress=False, on_epoch_end=hook)
    resumed = fit(cfg, tiny_data, seed=1111, out_dir=tmp_path, resume=True, progress=False)

    assert _drop_seconds(resumed) == _drop_seconds(whole)
    assert resumed.best_epoch == whole.best_epoch
    assert resumed.test_metrics == whole.test_metrics
    pd.testing.assert_frame_equal(resumed.test_predictions, whole.test_predictions)
    a, b = whole.model.state_dict(), resumed.model.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    for name in ("best.pt", "last.pt"):
        x = torch.load(whole_dir / name, weights_only=True)
        y = torch.load(tmp_path / name, weights_only=True)
        assert all(torch.equal(x["model"][k], y["model"][k]) for k in x["model"])
        assert x["epoch"] == y["epoch"]


def test_resume_of_a_finished_run_does_not_train(tiny_cfg, tiny_data, tmp_path, monkeypatch):
    cfg = tiny_cfg.replace(epochs=1)
    first = fit(cfg, tiny_data, seed=1111, out_dir=tmp_path, progress=False)
    _kill_mid_epoch(monkeypatch, after_calls=0)  # any training step would raise
    again = fit(cfg, tiny_data, seed=1111, out_dir=tmp_path, resume=True, progress=False)
    assert again.test_metrics == first.test_metrics and _drop_seconds(again) == _drop_seconds(first)
    pd.testing.assert_frame_equal(again.test_predictions, first.test_predictions)
    with pytest.raises(ValueError, match="gamma"):
        fit(cfg.replace(gamma=0.5), tiny_data, seed=1111, out_dir=tmp_path, resume=True, progress=False)


def test_non_finite_loss_names_epoch_batch_part_and_keeps_checkpoint(tiny_cfg, tiny_data, tmp_path, monkeypatch):
    real, calls = train.amccl_loss, {"n": 0}

    def poisoned(outputs, labels, cfg):
        losses = real(outputs, labels, cfg)
        calls["n"] += 1
        if calls["n"] == 5:  # epoch 2, batch 2 (3 batches per epoch)
            bad = losses["margin"] * float("nan")
            losses.update(margin=bad, inter=losses["inter"] + bad, contrastive=losses["contrastive"] + bad,
                          loss=losses["loss"] + bad)
        return losses

    monkeypatch.setattr(train, "amccl_loss", poisoned)
    with pytest.raises(NonFiniteLossError, match=r"epoch 2, batch 2 of 3: loss part 'margin'") as err:
        fit(tiny_cfg.replace(epochs=3), tiny_data, seed=1111, out_dir=tmp_path, progress=False)
    assert (err.value.epoch, err.value.batch, err.value.part) == (2, 2, "margin")
    last = torch.load(tmp_path / "last.pt", weights_only=True)
    assert last["epoch"] == 1 and not last["finished"]
    assert all(torch.isfinite(v).all() for v in last["model"].values() if v.is_floating_point())


def test_one_sample_last_batch_trains_and_skips_batchnorm_update(tiny_cfg):
    cfg = tiny_cfg.replace(synthetic_sizes=(33, 16, 24), epochs=1)  # batches of 16, 16, 1
    history = fit(cfg, seed=1111, progress=False)
    assert np.isfinite(history.epochs[0]["train_loss"])
    assert int(history.model.fusionBatchNorm.num_batches_tracked) == 2


def test_frozen_text_cache_is_used_and_bert_stays_fixed(tiny_cfg, tiny_data, monkeypatch):
    import amccl.model

    cfg = tiny_cfg.replace(freeze_text=True, epochs=1)
    seed_everything(1111)
    initial = {k: v.clone() for k, v in AMCCL(cfg).text_model.state_dict().items()}
    real, counts = evaluation.text_cache_rows, {"cache": 0, "bert": 0}

    def counting_cache(*args, **kwargs):
        counts["cache"] += 1
        return real(*args, **kwargs)

    real_forward = amccl.model.TextEncoder.forward

    def counting_forward(self, text):
        counts["bert"] += 1
        return real_forward(self, text)

    monkeypatch.setattr(evaluation, "text_cache_rows", counting_cache)
    monkeypatch.setattr(amccl.model.TextEncoder, "forward", counting_forward)
    history = fit(cfg, tiny_data, seed=1111, progress=False)
    assert counts == {"cache": 3, "bert": 3}  # one BERT pass per split (each fits one chunk)
    final = history.model.text_model.state_dict()
    assert all(torch.equal(initial[k], final[k]) for k in initial)
    assert tiny_data.train.text_feats is None  # the caller's data is untouched


def test_eval_predictions_do_not_depend_on_batch_order(tiny_cfg, tiny_data):
    seed_everything(0)
    model = AMCCL(tiny_cfg)
    ordered = evaluate_split(model, tiny_data.test, tiny_cfg, "cpu")
    shuffled = evaluate_split(model, tiny_data.test, tiny_cfg, "cpu", torch.Generator().manual_seed(3), shuffle=True)
    np.testing.assert_allclose(shuffled.predictions, ordered.predictions, atol=1e-6)
    assert shuffled.metrics == pytest.approx(ordered.metrics, abs=1e-6)


def test_run_seeds_rows_summary_and_csvs(tiny_cfg, tiny_data, tmp_path):
    cfg = tiny_cfg.replace(epochs=1)
    results = run_seeds(cfg, seeds=[1111, 1112], data=tiny_data, out_dir=tmp_path, progress=False)
    assert list(results.seed) == [1111, 1112]
    for column in ("config", "data_path", "data_sha256", "torch_version", "transformers_version", "device"):
        assert column in results.columns
    tests = [torch.load(tmp_path / f"seed_{s}" / "best.pt", weights_only=True)["metrics"]["test"] for s in (1111, 1112)]
    keys = primary_metrics("mosi")
    for row, test in zip(results.to_dict("records"), tests):
        assert {k: row[k] for k in keys} == {k: test[k] for k in keys}  # fractions, as compute_metrics
    assert results["test_loss"].between(0, 10).all()
    summary = summarize(results, "mosi")
    values = np.array([[t[k] for k in keys] for t in tests])
    np.testing.assert_allclose(summary.loc["mean", keys], values.mean(0))  # not rounded
    np.testing.assert_allclose(summary.loc["std", keys], values.std(0))  # ddof=0, as MMSA
    csv = pd.read_csv(tmp_path / "results.csv")
    np.testing.assert_allclose(csv[keys].to_numpy(), values)  # fractions in the file
    assert (csv[[k for k in keys if k != "MAE"]] <= 1).all().all() and (csv["MAE"] < 1.5).all()
    table = pd.read_csv(tmp_path / "summary.csv", index_col=0)
    assert list(table.index) == ["mean", "std"]
    np.testing.assert_allclose(table.loc["mean", keys].to_numpy(float), values.mean(0))


def test_logger_never_duplicates_lines():
    logger = get_logger()
    get_logger()
    ours = [h for h in logger.handlers if getattr(h, "_amccl", False)]
    assert len(ours) == 1 and not logger.propagate
    stream, old = io.StringIO(), ours[0].stream
    ours[0].stream = stream
    try:
        get_logger(logging.INFO).info("hello once")
    finally:
        ours[0].stream = old
    assert stream.getvalue().count("hello once") == 1


def test_frozen_pretrained_text_rows_are_computed_once_per_process(monkeypatch):
    # An ablation grid fits many variants and seeds on one data set with the same frozen,
    # pretrained encoder: its cache rows are computed once. A random encoder's depend on the
    # seed, so they are computed every time.
    calls = []

    def fake_rows(model, text, batch_size, device):
        calls.append(text.shape)
        return text[:, :, :1].float().repeat(1, 1, 4)

    monkeypatch.setattr(evaluation, "text_cache_rows", fake_rows)
    monkeypatch.setattr(evaluation, "_TEXT_CACHE", type(evaluation._TEXT_CACHE)())
    pretrained = AMCCLConfig.for_dataset("mosi", text_encoder="minilm", freeze_text=True)
    text_a = np.arange(2 * 3 * 5).reshape(2, 3, 5)
    text_b = text_a + 1
    first = evaluation._cached_rows(None, text_a, pretrained, torch.device("cpu"))
    again = evaluation._cached_rows(None, text_a.copy(), pretrained, torch.device("cpu"))
    assert len(calls) == 1 and torch.equal(first, again)
    other = evaluation._cached_rows(None, text_b, pretrained, torch.device("cpu"))
    assert len(calls) == 2 and not torch.equal(first, other)
    random_encoder = pretrained.replace(text_encoder="tiny-random")
    evaluation._cached_rows(None, text_a, random_encoder, torch.device("cpu"))
    evaluation._cached_rows(None, text_a, random_encoder, torch.device("cpu"))
    assert len(calls) == 4


def test_fit_records_the_files_notes_and_length_variants_refuse_it(tmp_path):
    from amccl.data import DataError, DataWarning, load_mmsa
    from tests.test_data_mmsa import SHAPES, dump, make_raw

    raw = make_raw(with_text=False)
    raw["train"]["audio_lengths"] = np.asarray(raw["train"]["audio_lengths"]).copy()
    raw["train"]["audio_lengths"][2] = 0  # odd, but the default model never reads lengths
    path = dump(raw, tmp_path / "odd.pkl")
    with pytest.warns(DataWarning, match="audio_lengths"):
        data = load_mmsa(path, "mosi", shapes=SHAPES, compute_hash=True)
    lt, la, lv, da, dv = SHAPES
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", epochs=1, batch_size=4,
                                  text_len=lt, audio_len=la, vision_len=lv, audio_dim=da, vision_dim=dv)
    history = fit(cfg, data, seed=1, progress=False)
    assert [(n["split"], n["key"]) for n in history.meta["data_notes"]] == [("train", "audio_lengths")]
    assert history.meta["data_release"]["release"] == "not a published MMSA file"
    with pytest.raises(DataError, match=r"split 'train', key 'audio_lengths'.*last_valid_step"):
        fit(cfg.replace(last_valid_step=True), data, seed=1, progress=False)


class _Terminal(io.StringIO):
    """A stream that says it is a terminal (what a user's shell gives tqdm)."""

    def isatty(self) -> bool:
        return True


def test_a_terminal_gets_a_bar_and_a_pipe_gets_none(monkeypatch):
    from amccl.runtime import can_draw_bars, progress_bar, progress_enabled, progress_lines

    monkeypatch.delenv("CI", raising=False)
    tty, pipe = _Terminal(), io.StringIO()
    assert can_draw_bars(tty) and not can_draw_bars(pipe)
    for stream in (tty, pipe):
        with progress_bar(total=3, desc="epochs", file=stream) as bar:
            for _ in range(3):
                bar.update(1)
    assert "epochs: 100%" in tty.getvalue() and "\r" in tty.getvalue()  # the bar, redrawn in place
    assert pipe.getvalue() == ""  # a piped stream gets no bar at all
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: False)  # stderr piped
    assert not progress_enabled(True) and progress_lines(True) and not progress_lines(False)
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: True)  # stderr a terminal
    assert progress_enabled(True) and not progress_lines(True)
    monkeypatch.setenv("CI", "1")
    assert not progress_enabled(True) and progress_lines(True)  # CI: lines, never bars


def test_fit_logs_one_plain_line_per_epoch_where_no_bar_can_be_drawn(tiny_cfg, tiny_data, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: False)
    logger = get_logger(logging.INFO)
    (handler,) = [h for h in logger.handlers if getattr(h, "_amccl", False)]
    stream = io.StringIO()
    monkeypatch.setattr(handler, "stream", stream)
    fit(tiny_cfg.replace(epochs=2), tiny_data, seed=1111, progress=True)
    lines = stream.getvalue().splitlines()
    epochs = [line for line in lines if "seed 1111 epoch " in line]
    assert len(epochs) == 2 and "epoch 2/2: train loss" in epochs[1] and "valid MAE" in epochs[1]
    assert len(lines) == 4 and "\r" not in stream.getvalue()  # start, two epochs, end
    stream.truncate(0)
    stream.seek(0)
    fit(tiny_cfg.replace(epochs=2), tiny_data, seed=1111, progress=False)  # a grid's or a trial's run
    assert stream.getvalue() == ""


def test_fit_refuses_splits_it_does_not_know(tiny_cfg, tiny_data):
    with pytest.raises(ValueError, match=r"splits must be \('train', 'valid', 'test'\) or \('train', 'valid'\)"):
        fit(tiny_cfg, tiny_data, splits=("train", "test"), progress=False)
