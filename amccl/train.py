"""Training as the paper did it (spec §4, §8): ``fit`` one seed, ``run_seeds`` several.

``fit`` reads top to bottom: set-up in the reference's order of random draws, the epoch loop
(train, validate, keep the best weights, checkpoint, stop early), then the best weights
scored on the test split. Elsewhere: the checkpoint format (:mod:`amccl.checkpoint`), the
optimizer (:mod:`amccl.optim`), the loop over a split (:mod:`amccl.evaluation`), history and
seed tables (:mod:`amccl.results`). Choices where the reference is silent or unsafe:

* A one-sample training batch runs the head's BatchNorm on its running statistics (spec
  §2.8); the step is still taken, so the schedule is the reference's.
* ``freeze_text`` leaves the BERT out of the optimizer (its two groups stay, empty); with
  ``cache_text`` it runs once per split in eval mode (no BERT dropout), while
  ``cache_text=false`` runs it every batch in train mode like ``use_finetune=False``.
* A non-finite loss raises :class:`NonFiniteLossError` (epoch, batch, first bad part) before
  that epoch's checkpoint is written: at once on CPU, at the epoch's end on a GPU.
* ``compile=True`` draws dropout masks with its own generator, leaving the reference's run.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from torch import nn

from amccl import checkpoint as ckpt
from amccl.bert import check_run_encoder, encoder_record
from amccl.config import AMCCLConfig
from amccl.data import MMSAData, check_data_for_config
from amccl.evaluation import autocast, batch_to, evaluate_split, make_loader, predictions_frame, with_text_cache
from amccl.losses import LOSS_PARTS, amccl_loss
from amccl.model import AMCCL
from amccl.optim import build_optimizer
from amccl.results import History, paper_row, results_frame, summarize, write_results
from amccl.runtime import (
    environment_info,
    get_logger,
    no_transformers_bars,
    preserved_rng,
    progress_bar,
    progress_enabled,
    progress_lines,
    resolve_device,
    seed_everything,
)

# Devices where checking a loss for NaN every batch costs no synchronisation.
_SYNC_FREE_DEVICES = ("cpu",)
# Order in which a non-finite loss is blamed: the most specific part first.
_BLAME_ORDER = ("l1", "refine", "margin", "inter", "intra", "contrastive", "loss")


class NonFiniteLossError(FloatingPointError):
    """A loss part became NaN or infinite; ``epoch``, ``batch`` (1-based) and ``part`` say where."""

    def __init__(self, message: str, epoch: int, batch: int, part: str) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.part = epoch, batch, part


@dataclass
class _Training:
    """What one seed's training holds; ``fit`` builds it and ``_train_epoch`` steps it."""

    cfg: AMCCLConfig
    model: AMCCL
    forward: Callable[..., dict[str, torch.Tensor]]
    optimizer: torch.optim.Optimizer
    scheduler: Any
    scaler: torch.amp.GradScaler
    device: torch.device
    out: Path | None
    header: dict[str, Any]
    show: bool
    epoch: int = 0
    best_epoch: int = 0
    best_mae: float = float("inf")
    best_state: dict[str, torch.Tensor] | None = None


def fit(
    cfg: AMCCLConfig, data=None, seed: int = 1111, out_dir: str | Path | None = None,
    resume: bool = False, progress: bool = True, device: str | torch.device | None = None,
    on_epoch_end: Callable[[dict[str, Any], nn.Module], None] | None = None, score_test: bool = True,
) -> History:
    """Train one seed as the paper did (spec §4) and return its :class:`History`.

    Args:
        cfg: the run's config (``AMCCLConfig.for_dataset(...)``).
        data: an ``MMSAData``; ``None`` loads ``cfg``'s (the embedded default when
            ``cfg.data_path`` is None).
        seed: seeds python, numpy and torch (CPU, CUDA). With the default config the run is
            the paper code's run for that seed, draw for draw (spec §8: initial weights, every
            data order, dropout masks), so each epoch's validation loss and MAE, the best
            epoch and the test metrics are the reference's on CPU (to float rounding); on a
            GPU up to the GPU's own nondeterminism. ``last.pt`` keeps every RNG state, so a
            resumed run is the same run.
        out_dir: where ``best.pt``, ``last.pt``, ``history.csv`` and ``predictions.csv``
            (test split) go; ``None`` writes nothing.
        resume: continue from ``out_dir/last.pt`` (same config and seed); a finished run is
            returned as it was, without training.
        progress: tqdm bars for epochs and batches where a bar can be drawn (a terminal or a
            notebook, never under ``CI``); elsewhere (stderr piped to a file, a job scheduler,
            CI) one plain log line per epoch instead: epoch n/N, train loss, valid MAE, best
            epoch, seconds (:func:`~amccl.runtime.progress_lines`). ``False``: neither, and the
            run's start and end lines are DEBUG (grids and tuning trials log one line per run).
        device: overrides ``cfg.device`` (``auto``: CUDA, else MPS, else CPU).
        on_epoch_end: called as ``on_epoch_end(record, model)`` after each epoch's
            checkpoint is written (live plots, custom stopping by raising).
        score_test: ``False`` never reads the test split: it is replaced by an empty one
            before any check (no text cache, no scoring), so ``test_metrics`` stays ``{}``,
            ``test_predictions`` is empty and no ``predictions.csv`` is written (model
            selection, e.g. :mod:`amccl.tuning`).

    Returns:
        A :class:`History`; ``history.model`` holds the best weights, in eval mode.

    Raises:
        EncoderError: the text encoder is missing (a ``paper`` run without a local BERT), or
            it does not fit the file's language or token ids; raised before any work.
        DataError: ``data`` does not fit ``cfg``, or ``cfg`` reads the lengths (``padding_mask``,
            ``last_valid_step``, ``masked_means``) of a file whose lengths were loaded with a
            warning (``data.notes``); every run records those notes in ``history.meta``.
        NonFiniteLossError: a loss part became NaN/inf (the message names epoch, batch, part).
    """
    if resume and out_dir is None:
        raise ValueError("resume=True needs the out_dir of the run to resume")
    cfg, data = _checked_data(cfg, data, score_test)
    device = resolve_device(device if device is not None else cfg.device)
    show, lines, log = progress_enabled(progress), progress_lines(progress), get_logger()
    say = log.info if progress else log.debug  # a grid's or a trial's fit: its caller logs one line
    if cfg.amp != "off" and device.type != "cuda":
        log.warning("amp=%s needs a CUDA device; running fp32 on %s", cfg.amp, device)

    # Set-up, in the reference's order of random draws (spec §8).
    seed_everything(seed)
    with no_transformers_bars():
        model = AMCCL(cfg).to(device)
    if cfg.freeze_text:
        model.text_model.requires_grad_(False)
    splits = with_text_cache(model, data, cfg, device)
    train_loader = make_loader(splits["train"], cfg, shuffle=True)
    optimizer, scheduler = build_optimizer(model, cfg, len(train_loader) * cfg.epochs)
    for _ in train_loader.index_batches():  # the reference's "initialise labels" pass: it
        pass  # reads nothing but draws one train order (spec §8.3)
    meta = {**_data_meta(data, cfg), "encoder": encoder_record(cfg, model.text_model), **environment_info(device)}
    history = History(config=cfg.to_dict(), seed=int(seed), meta=meta)
    run = _Training(
        cfg, model, torch.compile(model) if cfg.compile else model, optimizer, scheduler,
        torch.amp.GradScaler("cuda", enabled=cfg.amp == "fp16" and device.type == "cuda"), device,
        Path(out_dir) if out_dir is not None else None, ckpt.run_header(cfg.to_dict(), seed, meta), show,
    )
    if resume and ckpt.resume(run, history):
        return _finished(run, history)

    say("seed %d: %s on %s, %d epochs × %d batches (profile %s)", seed, cfg.dataset, device,
        cfg.epochs, len(train_loader), cfg.profile)
    bar = progress_bar(total=cfg.epochs, initial=run.epoch, desc=f"seed {seed}", disable=not show, unit="epoch")
    while run.epoch < cfg.epochs and run.epoch - run.best_epoch < cfg.early_stop:
        start, epoch = time.perf_counter(), run.epoch + 1
        record: dict[str, Any] = {"epoch": epoch, **_train_epoch(run, train_loader, epoch)}
        valid = evaluate_split(model, splits["valid"], cfg, device, shuffle=True, forward=run.forward)
        record.update(valid_loss=valid.loss, **{f"valid_{k}": v for k, v in valid.metrics.items()})
        record.update({f"lr_{g['name']}": lr for g, lr in zip(optimizer.param_groups, scheduler.get_last_lr())})
        record["seconds"] = time.perf_counter() - start
        run.epoch = epoch
        history.epochs.append(ckpt.to_plain(record))
        if valid.metrics["MAE"] < run.best_mae:  # strictly lower is better
            run.best_epoch, run.best_mae = epoch, float(valid.metrics["MAE"])
            run.best_state = ckpt.cpu_state_dict(model)
            ckpt.save_best(run, valid.metrics)
        ckpt.save_last(run, history)
        bar.update(1)
        bar.set_postfix(loss=f"{record['train_loss']:.4f}", valid_mae=f"{valid.metrics['MAE']:.4f}", best=run.best_epoch)
        if lines:
            log.info("seed %d epoch %d/%d: train loss %.4f, valid MAE %.4f, best epoch %d, %.1f s", seed, epoch,
                     cfg.epochs, record["train_loss"], valid.metrics["MAE"], run.best_epoch, record["seconds"])
        if on_epoch_end is not None:
            with preserved_rng():  # a callback's draws never change the run (nor a resumed one)
                on_epoch_end(record, model)
    bar.close()

    # The best weights, scored on the test split.
    if run.best_state is not None:
        model.load_state_dict(run.best_state)
    best = next((r for r in history.epochs if r["epoch"] == run.best_epoch), {})
    history.valid_metrics = {k[len("valid_"):]: v for k, v in best.items() if k.startswith("valid_") and k != "valid_loss"}
    history.best_epoch, history.stopped_early = run.best_epoch, run.epoch < cfg.epochs
    if score_test:
        test = evaluate_split(model, splits["test"], cfg, device, shuffle=True, forward=run.forward)
        history.test_metrics, history.test_loss = ckpt.to_plain(test.metrics), float(test.loss)
        history.test_predictions = predictions_frame(data.test, test.predictions)
    else:
        history.test_predictions = predictions_frame(data.test, [])  # the empty split: nothing scored
    ckpt.save_best(run, history.valid_metrics, history.test_metrics)
    ckpt.save_last(run, history, finished=True)
    if run.out is not None:
        history.to_frame().to_csv(run.out / "history.csv")
        if score_test:
            history.test_predictions.to_csv(run.out / "predictions.csv", index=False)
    say("seed %d: best epoch %d of %d, %s MAE %.4f", seed, run.best_epoch, run.epoch,
        *(("test", history.test_metrics["MAE"]) if score_test else ("valid", run.best_mae)))
    return _finished(run, history)


def _checked_data(cfg: AMCCLConfig, data, score_test: bool = True) -> tuple[AMCCLConfig, Any]:
    """``cfg`` fitted to the file's own shapes (:meth:`AMCCLConfig.with_file_shapes`, for a real file
    and ``shapes="file"``) and ``data`` (or ``cfg``'s, loaded), after the encoder and data checks that
    run before any work; without ``score_test``, the test split is replaced by an empty one first
    (:func:`without_test`)."""
    check_run_encoder(cfg)  # the paper's encoder is there and the file's language fits
    if data is None:
        from amccl.data import load_data

        data = load_data(cfg)
    if not score_test:
        data = without_test(data)
    if isinstance(data, MMSAData):
        if cfg.data_path is not None:
            cfg = cfg.with_file_shapes(data.shapes)  # unchanged for MMSA's shapes or shapes="paper"
        check_data_for_config(data, cfg)
        check_run_encoder(cfg, data)  # token ids within the encoder's vocabulary
    return cfg, data


def without_test(data) -> Any:
    """A shallow copy of ``data`` whose test split is empty (0 clips, the valid split's dtypes and
    trailing shapes): model selection that cannot read a test clip or label. ``data.test`` is not
    touched."""
    valid = data.valid
    empty = copy.copy(valid)
    for name, value in vars(valid).items():
        if hasattr(value, "shape") and getattr(value, "ndim", 0) > 0:
            setattr(empty, name, value[:0])
    empty.name, empty.text_feats = "test", None
    empty.extras = {k: v[:0] for k, v in getattr(valid, "extras", {}).items()}
    empty.cleaned = {}
    out = copy.copy(data)
    out.test = empty
    return out


def _train_epoch(run: _Training, loader, epoch: int) -> dict[str, float]:
    """One pass over the training split; returns ``train_<part>`` means over its batches."""
    cfg, model, device = run.cfg, run.model, run.device
    model.train()
    sums = torch.zeros(len(LOSS_PARTS), device=device)
    flags: list[torch.Tensor] = []
    check_now = device.type in _SYNC_FREE_DEVICES  # on a GPU a check per batch would synchronise
    bar = progress_bar(loader, desc=f"epoch {epoch}", leave=False, disable=not run.show, unit="batch")
    for i, batch in enumerate(bar):
        inputs, labels, _ = batch_to(batch, device)
        with autocast(device, cfg.amp):
            outputs = run.forward(**inputs)
        losses = amccl_loss({k: v.float() for k, v in outputs.items()}, labels, cfg)  # in float32
        parts = torch.stack([torch.as_tensor(losses[k], device=device).detach().float() for k in LOSS_PARTS])
        flags.append(torch.isfinite(parts))
        if check_now and not bool(flags[-1].all()):
            _non_finite(run, epoch, i, len(loader), flags[-1])
        run.optimizer.zero_grad(set_to_none=True)
        run.scaler.scale(losses["loss"]).backward()
        run.scaler.step(run.optimizer)
        run.scaler.update()
        run.scheduler.step()
        sums += parts
    if flags and not check_now:
        table = torch.stack(flags).cpu()  # (batches, parts): one synchronisation per epoch
        bad = (~table.all(1)).nonzero()
        if len(bad):
            _non_finite(run, epoch, int(bad[0]), len(loader), table[int(bad[0])])
    means = (sums / max(len(loader), 1)).tolist()
    return {f"train_{k}": v for k, v in zip(LOSS_PARTS, means)}


def _non_finite(run: _Training, epoch: int, batch: int, batches: int, finite: torch.Tensor) -> None:
    """Raise for batch ``batch`` (0-based) whose parts' finiteness flags are ``finite``."""
    row = dict(zip(LOSS_PARTS, finite.cpu().tolist()))
    part = next(p for p in _BLAME_ORDER if not row[p])
    where = ""
    if run.out is not None:
        where = (f"; the last good checkpoint (epoch {epoch - 1}) in {run.out} is intact" if epoch > 1
                 else "; no checkpoint was written")
    raise NonFiniteLossError(f"non-finite loss at epoch {epoch}, batch {batch + 1} of {batches}: loss part "
                             f"'{part}' is not finite (seed {run.header['seed']}){where}", epoch, batch + 1, part)


def _finished(run: _Training, history: History) -> History:
    run.model.eval()
    history.model = run.model
    return history


def _data_meta(data, cfg: AMCCLConfig) -> dict[str, Any]:
    """Where the data came from: path (or the embedded default's recipe), hash, release, notes."""
    path = getattr(data, "path", None)
    if not path:
        path = f"embedded:{cfg.dataset}(sizes={','.join(map(str, cfg.synthetic_sizes))}, seed={cfg.synthetic_seed})"
    return {"data_path": str(path), "data_sha256": getattr(data, "sha256", None),
            "data_source": getattr(data, "source", None), "data_release": getattr(data, "release", None),
            "data_notes": list(getattr(data, "notes", [])), "data_shapes": list(getattr(data, "shapes", ())),
            "shapes_note": cfg.shapes_note}


def run_seeds(
    cfg: AMCCLConfig, seeds: list[int] | tuple[int, ...] | None = None, data=None,
    out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
    device: str | torch.device | None = None, baselines: bool = False,
) -> pd.DataFrame:
    """Train one run per seed (default ``cfg.seeds``: 1111-1115, the MMSA convention).

    Each seed writes into ``out_dir/seed_<seed>/``; ``out_dir`` also gets ``results.csv``
    and ``summary.csv`` (:func:`amccl.results.write_results`, fractions). With ``baselines``
    the constant and the two ridge probes (:func:`amccl.baselines.baseline_table`) are scored
    on the same test split after the seeds: ``results.attrs["baselines"]`` holds their table's
    records (``pd.DataFrame(records)`` gives it back),
    ``summary.csv`` a row each and ``out_dir/baselines.csv`` the whole table.

    Returns:
        The results DataFrame: one row per seed with the test metrics (fractions, as
        ``compute_metrics`` gives them) and ``test_loss``, the best epoch, seconds, data path
        and sha256, encoder, package versions, device and config JSON. ``summarize(frame)``
        gives the mean/std table, ``seed_table(frame)`` the printed one.
    """
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

        table = baseline_table(cfg, data, device=resolve_device(device or cfg.device))
        results.attrs["baselines"] = table.to_dict("records")  # records: pandas compares attrs, a frame has no truth value
    if out_dir is not None:
        write_results(results, out_dir, cfg.dataset)
    get_logger().debug("%s over seeds %s:\n%s", cfg.dataset, seeds, paper_row(summarize(results, cfg.dataset)).to_string())
    return results
