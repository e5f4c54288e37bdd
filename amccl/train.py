"""Training (docs/model.md §4): ``fit`` one seed, ``run_seeds`` several, ``train_step`` one batch.

``fit`` reads top to bottom: set-up in the reference's order of random draws (docs/model.md §8),
the epoch loop, then the best weights scored on test. A frozen or cached BERT, one-sample batches,
a non-finite loss and ``compile=True`` behave as docs/model.md §2.1, §2.8, §4 and §8 say."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from amccl import checkpoint as ckpt
from amccl import runtime
from amccl.bert import check_run_encoder, encoder_record
from amccl.config import AMCCLConfig
from amccl.data import MMSAData, check_data_for_config
from amccl.evaluation import autocast, batch_to, evaluate_split, make_loader, predictions_frame, with_text_cache
from amccl.losses import LOSS_PARTS, amccl_loss
from amccl.model import AMCCL
from amccl.optim import build_optimizer
from amccl.results import History, paper_row, results_frame, summarize, write_results

ALL_SPLITS = ("train", "valid", "test")
MODEL_SELECTION = ("train", "valid")  # the test split is never read
_BLAME_ORDER = ("l1", "refine", "margin", "inter", "intra", "contrastive", "loss")  # a NaN's part: most specific


class NonFiniteLossError(FloatingPointError):
    """A loss part became NaN or infinite; ``epoch``, ``batch`` (1-based) and ``part`` say where."""

    def __init__(self, message: str, epoch: int, batch: int, part: str) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.part = epoch, batch, part


def fit(cfg: AMCCLConfig, data=None, seed: int = 1111, out_dir: str | Path | None = None, resume: bool = False,
        progress: bool = True, device: str | torch.device | None = None,
        on_epoch_end: Callable[[dict[str, Any], nn.Module], None] | None = None,
        splits: tuple[str, ...] = ALL_SPLITS) -> History:
    """Train one seed as the paper did (docs/model.md §4); returns its :class:`History`, whose
    ``model`` holds the best weights in eval mode.

    Args:
        cfg: the run's config; data: an ``MMSAData`` (``None`` loads ``cfg``'s).
        seed: with the default config, the paper code's run, draw for draw (docs/model.md §8).
        out_dir: for ``best.pt``, ``last.pt``, ``history.csv``, ``predictions.csv``; ``None``: no files.
        resume: continue from ``out_dir/last.pt`` (same config and seed); a finished run is returned.
        progress: bars where one can be drawn, else a log line per epoch; device: overrides ``cfg.device``.
        on_epoch_end: ``on_epoch_end(record, model)`` after each epoch's checkpoint (raise to stop).
        splits: ``ALL_SPLITS`` or ``MODEL_SELECTION`` (the test split is never read: empty
            ``test_metrics`` and ``test_predictions``, no ``predictions.csv``).

    Raises:
        ValueError: ``splits`` is neither of the two above, or ``resume`` without ``out_dir``.
        EncoderError: the text encoder is missing or does not fit the file (before any work).
        DataError: ``data`` does not fit ``cfg`` (e.g. lengths its notes mark unusable).
        NonFiniteLossError: a loss part became NaN/inf.
    """
    if tuple(splits) not in (ALL_SPLITS, MODEL_SELECTION):
        raise ValueError(f"splits must be {ALL_SPLITS} or {MODEL_SELECTION} (model selection), got {splits!r}")
    with_test = "test" in splits
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out_dir of the run to resume")
    cfg, data = _checked_data(cfg, data, with_test)
    device = runtime.resolve_device(device if device is not None else cfg.device)
    show, lines, log = runtime.progress_enabled(progress), runtime.progress_lines(progress), runtime.get_logger()
    say = log.info if progress else log.debug  # a grid's or a trial's fit: its caller logs one line
    if cfg.amp != "off" and device.type != "cuda":
        log.warning("amp=%s needs a CUDA device; running fp32 on %s", cfg.amp, device)

    # Set-up, in the reference's order of random draws (docs/model.md §8).
    runtime.seed_everything(seed)
    with runtime.no_transformers_bars():
        model = AMCCL(cfg).to(device)
    if cfg.freeze_text:
        model.text_model.requires_grad_(False)
    forward = torch.compile(model) if cfg.compile else model
    split_data = with_text_cache(model, data, cfg, device)
    train_loader = make_loader(split_data["train"], cfg, shuffle=True)
    optimizer, scheduler = build_optimizer(model, cfg, len(train_loader) * cfg.epochs)
    list(train_loader.index_batches())  # the reference's "initialise labels" pass: one order (docs/model.md §8.3)
    meta = {**_data_meta(data, cfg), "encoder": encoder_record(cfg, model.text_model)}
    meta.update(runtime.environment_info(device))
    history = History(config=cfg.to_dict(), seed=int(seed), meta=meta)
    scaler = torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and device.type == "cuda")
    run = ckpt.Run(model, optimizer, scheduler, scaler, Path(out_dir) if out_dir is not None else None,
                   ckpt.run_header(cfg.to_dict(), seed, meta))
    epoch, best_epoch, best_mae, best_state = 0, 0, float("inf"), None
    saved = ckpt.resume(run) if resume else None
    if saved is not None:
        epoch, best_epoch, best_mae, best_state = saved.epoch, saved.best_epoch, saved.best_mae, saved.best_state
        history.epochs = saved.epochs
        if saved.final is not None:  # a finished run, returned as it was
            model.load_state_dict(best_state)
            vars(history).update(saved.final, best_epoch=best_epoch)
            history.model = model.eval()
            return history

    say("seed %d: %s on %s, %d epochs × %d batches (profile %s)", seed, cfg.dataset, device,
        cfg.epochs, len(train_loader), cfg.profile)
    bar = runtime.progress_bar(total=cfg.epochs, initial=epoch, desc=f"seed {seed}", disable=not show, unit="epoch")
    while epoch < cfg.epochs and epoch - best_epoch < cfg.early_stop:
        start, epoch = time.perf_counter(), epoch + 1
        model.train()
        batches = runtime.progress_bar(train_loader, desc=f"epoch {epoch}", leave=False, disable=not show, unit="batch")
        parts = [train_step(forward, batch, optimizer, scheduler, scaler, cfg, device) for batch in batches]
        _check_finite(parts, epoch, seed, run.out)  # once per epoch, before its checkpoint
        means = sum(parts, torch.zeros(len(LOSS_PARTS), device=device)) / max(len(parts), 1)
        record: dict[str, Any] = {"epoch": epoch, **{f"train_{k}": v for k, v in zip(LOSS_PARTS, means.tolist())}}
        valid = evaluate_split(model, split_data["valid"], cfg, device, shuffle=True, forward=forward)
        record.update(valid_loss=valid.loss, **{f"valid_{k}": v for k, v in valid.metrics.items()})
        record.update({f"lr_{g['name']}": lr for g, lr in zip(optimizer.param_groups, scheduler.get_last_lr())})
        record["seconds"] = time.perf_counter() - start
        history.epochs.append(ckpt.to_plain(record))
        if valid.metrics["MAE"] < best_mae:  # strictly lower is better
            best_epoch, best_mae, best_state = epoch, float(valid.metrics["MAE"]), ckpt.cpu_state_dict(model)
            ckpt.save_best(run, best_epoch, best_state, valid.metrics)
        ckpt.save_last(run, history, epoch, best_epoch, best_mae)
        bar.update(1)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}", valid_mae=f"{valid.metrics['MAE']:.4f}", best=best_epoch)
        if lines:
            log.info("seed %d epoch %d/%d: train loss %.4f, valid MAE %.4f, best epoch %d, %.1f s", seed, epoch,
                     cfg.epochs, record["train_loss"], valid.metrics["MAE"], best_epoch, record["seconds"])
        if on_epoch_end is not None:
            with runtime.preserved_rng():  # a callback's draws never change the run (nor a resumed one)
                on_epoch_end(record, model)
    bar.close()

    # The best weights, scored on the test split.
    if best_state is not None:
        model.load_state_dict(best_state)
    best = next((r for r in history.epochs if r["epoch"] == best_epoch), {})
    history.valid_metrics = {k[len("valid_"):]: v for k, v in best.items()
                             if k.startswith("valid_") and k != "valid_loss"}
    history.best_epoch, history.stopped_early = best_epoch, epoch < cfg.epochs
    if with_test:
        test = evaluate_split(model, split_data["test"], cfg, device, shuffle=True, forward=forward)
        history.test_metrics, history.test_loss = ckpt.to_plain(test.metrics), float(test.loss)
        history.test_predictions = predictions_frame(data.test, test.predictions)
    else:
        history.test_predictions = predictions_frame(data.test, [])  # the empty split: nothing scored
    ckpt.save_best(run, best_epoch, best_state, history.valid_metrics, history.test_metrics)
    ckpt.save_last(run, history, epoch, best_epoch, best_mae, finished=True)
    if run.out is not None:
        history.to_frame().to_csv(run.out / "history.csv")
        if with_test:
            history.test_predictions.to_csv(run.out / "predictions.csv", index=False)
    say("seed %d: best epoch %d of %d, %s MAE %.4f", seed, best_epoch, epoch,
        *(("test", history.test_metrics["MAE"]) if with_test else ("valid", best_mae)))
    history.model = model.eval()
    return history


def train_step(forward: Callable[..., dict[str, torch.Tensor]], batch: dict[str, torch.Tensor],
               optimizer: torch.optim.Optimizer, scheduler: Any, scaler: torch.amp.GradScaler,
               cfg: AMCCLConfig, device: torch.device) -> torch.Tensor:
    """One step on a ``BatchLoader`` batch (docs/model.md §3-4): ``forward`` (the train-mode model or its
    compiled wrapper) under ``cfg.amp``, the loss in float32, backward through ``scaler``, optimizer and
    schedule steps. Returns the loss parts (len(LOSS_PARTS),) float32 on ``device``, detached, unchecked."""
    inputs, labels, _ = batch_to(batch, device)
    with autocast(device, cfg.amp):
        outputs = forward(**inputs)
    losses = amccl_loss({k: v.float() for k, v in outputs.items()}, labels, cfg)  # in float32
    parts = torch.stack([torch.as_tensor(losses[k], device=device).detach().float() for k in LOSS_PARTS])
    optimizer.zero_grad(set_to_none=True)
    scaler.scale(losses["loss"]).backward()
    scaler.step(optimizer)
    scaler.update()
    scheduler.step()
    return parts


def _check_finite(parts: list[torch.Tensor], epoch: int, seed: int, out: Path | None) -> None:
    """Raise :class:`NonFiniteLossError` for the first batch with a non-finite loss part (one read)."""
    finite = torch.isfinite(torch.stack(parts)).cpu() if parts else torch.ones(0, len(LOSS_PARTS), dtype=torch.bool)
    bad = (~finite.all(1)).nonzero()  # (batches, parts) flags: the first batch with a non-finite part
    if not len(bad):
        return
    batch, row = int(bad[0]), dict(zip(LOSS_PARTS, finite[int(bad[0])].tolist()))
    part = next(p for p in _BLAME_ORDER if not row[p])
    kept = (f"the last good checkpoint (epoch {epoch - 1}) in {out} is intact" if epoch > 1
            else "no checkpoint was written")
    where = f"; {kept}" if out is not None else ""
    raise NonFiniteLossError(f"non-finite loss at epoch {epoch}, batch {batch + 1} of {len(finite)}: loss part "
                             f"'{part}' is not finite (seed {seed}){where}", epoch, batch + 1, part)


def _checked_data(cfg: AMCCLConfig, data, with_test: bool = True) -> tuple[AMCCLConfig, Any]:
    """``cfg`` fitted to the file's shapes and ``data`` (or ``cfg``'s, loaded), checked before any
    work; without ``with_test``, a shallow copy whose test split is the valid split's first 0 clips."""
    check_run_encoder(cfg)  # the paper's encoder is there and the file's language fits
    if data is None:
        from amccl.data import load_data

        data = load_data(cfg)
    if not with_test:
        empty, data = copy.copy(data.valid), copy.copy(data)
        vars(empty).update({k: v[:0] for k, v in vars(empty).items() if getattr(v, "ndim", 0) > 0}, name="test",
                           text_feats=None, cleaned={}, extras={k: v[:0] for k, v in empty.extras.items()})
        data.test = empty
    if isinstance(data, MMSAData):
        if cfg.data_path is not None:
            cfg = cfg.with_file_shapes(data.shapes)  # unchanged for MMSA's shapes or shapes="paper"
        check_data_for_config(data, cfg)
        check_run_encoder(cfg, data)  # token ids within the encoder's vocabulary
    return cfg, data


def _data_meta(data, cfg: AMCCLConfig) -> dict[str, Any]:
    """Where the data came from (path or the embedded default's recipe), hash, release, notes."""
    path = getattr(data, "path", None)
    if not path:
        path = f"embedded:{cfg.dataset}(sizes={','.join(map(str, cfg.synthetic_sizes))}, seed={cfg.synthetic_seed})"
    return {"data_path": str(path), "data_sha256": getattr(data, "sha256", None),
            "data_source": getattr(data, "source", None), "data_release": getattr(data, "release", None),
            "data_notes": list(getattr(data, "notes", [])), "data_shapes": list(getattr(data, "shapes", ())),
            "shapes_note": cfg.shapes_note}


def run_seeds(cfg: AMCCLConfig, seeds: list[int] | tuple[int, ...] | None = None, data=None,
              out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
              device: str | torch.device | None = None, baselines: bool = False) -> pd.DataFrame:
    """:func:`fit` once per seed (default ``cfg.seeds``) into ``out_dir/seed_<seed>/``; returns the
    results frame (:func:`amccl.results.results_frame`), also written as ``results.csv`` and
    ``summary.csv``. ``baselines``: :func:`amccl.baselines.baseline_table`'s records on the same
    test split in ``results.attrs["baselines"]`` (and ``baselines.csv``)."""
    seeds = list(cfg.seeds if seeds is None else seeds)
    cfg, data = _checked_data(cfg, data)
    histories = []
    for seed in seeds:
        run_dir = Path(out_dir) / f"seed_{seed}" if out_dir is not None else None
        history = fit(cfg, data, seed, run_dir, resume=resume, progress=progress, device=device)
        history.model = None  # keep memory flat over many seeds; weights are in best.pt
        histories.append(history)
    results = results_frame(histories)
    if baselines:
        from amccl.baselines import baseline_table

        table = baseline_table(cfg, data, device=runtime.resolve_device(device or cfg.device))
        results.attrs["baselines"] = table.to_dict("records")  # records: a frame in attrs has no truth value
    if out_dir is not None:
        write_results(results, out_dir, cfg.dataset)
    row = paper_row(summarize(results, cfg.dataset)).to_string()
    runtime.get_logger().debug("%s over seeds %s:\n%s", cfg.dataset, seeds, row)
    return results
