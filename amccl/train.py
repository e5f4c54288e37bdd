"""Training as the paper did it (spec §4): ``fit`` one seed, ``run_seeds`` several.

``fit(cfg, data, seed)`` trains with AdamW over five parameter groups and transformers'
cosine schedule (10 % warm-up over the *planned* steps, stepped every batch), validates every
epoch, stops early on validation MAE (strictly lower is better; stop when
``epoch - best_epoch >= early_stop``), restores the best weights and reports their test
metrics. With ``out_dir`` it writes ``best.pt`` and a resumable ``last.pt`` every epoch
(``amccl.checkpoint``); ``resume=True`` continues a killed run to the same numbers.
The optimizer lives in ``amccl.optim``, split scoring in ``amccl.evaluation``, the history
and the seed tables in ``amccl.results``, devices/seeds/logging in ``amccl.runtime``.

Choices where the reference is silent or unsafe (all documented, none changes a paper run):

* One seed gives the reference's whole run (spec §8): ``seed_everything`` seeds python,
  numpy and torch; the model draws its initial weights in the reference's construction
  order; every pass over every split (the reference's extra "initialise labels" pass over
  train before epoch 1 included) draws its order from torch's global generator as
  ``DataLoader(shuffle=True)`` does; the forward pass draws dropout masks in the reference's
  order. ``last.pt`` holds every global RNG state, so a resumed run is the same run; an
  ``on_epoch_end`` callback runs with the RNG states preserved. On a GPU the same holds up
  to the GPU's own nondeterminism (atomics in some CUDA kernels); ``compile=True`` draws
  dropout masks with its own generator and so leaves the reference's run.
* A one-sample training batch runs the head's BatchNorm on its running statistics and leaves
  them unchanged (``AMCCL._batch_norm``); the step is still taken, so the planned step count
  and the schedule are the reference's.
* ``freeze_text``: the BERT's parameters get ``requires_grad=False`` and are left out of the
  optimizer (their groups stay, empty, so there are always five groups and five lrs).
  With ``cache_text`` the frozen encoder runs once per split in eval mode
  (``precompute_text_features``), so BERT dropout is not applied; ``cache_text=false`` runs
  the frozen BERT every batch in train mode, exactly as the reference's ``use_finetune=False``.
* Loss parts are accumulated on the device and read once per epoch. A non-finite loss raises
  :class:`NonFiniteLossError` naming the epoch, the batch and the first bad part, before that
  epoch's checkpoint is written (on CPU at once; on GPU at the epoch's end, to avoid a
  synchronisation per batch).
"""

from __future__ import annotations

import copy
import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from amccl import checkpoint as ckpt
from amccl.config import AMCCLConfig
from amccl.data import MMSAData, check_data_for_config
from amccl.encoders import check_run_encoder, encoder_record
from amccl.evaluation import EvalResult, autocast, batch_to, evaluate_split, make_loader
from amccl.losses import amccl_loss
from amccl.optim import build_optimizer, parameter_groups
from amccl.results import LOSS_PARTS, History, paper_row, results_frame, summarize, write_results
from amccl.runtime import (
    environment_info,
    get_logger,
    preserved_rng,
    progress_bar,
    progress_enabled,
    resolve_device,
    rng_state,
    seed_everything,
    set_rng_state,
    transformers_bars,
)

__all__ = [
    "fit", "run_seeds", "build_optimizer", "parameter_groups", "evaluate_split", "EvalResult",
    "History", "NonFiniteLossError", "summarize", "paper_row",
]

# Devices where checking a loss for NaN every batch costs no synchronisation.
_SYNC_FREE_DEVICES = ("cpu",)
# Order in which a non-finite loss is blamed: the most specific part first.
_BLAME_ORDER = ("l1", "refine", "margin", "inter", "intra", "contrastive", "loss")


class NonFiniteLossError(FloatingPointError):
    """A loss part became NaN or infinite; ``epoch``, ``batch`` (1-based) and ``part`` say where."""

    def __init__(self, message: str, epoch: int, batch: int, part: str) -> None:
        super().__init__(message)
        self.epoch, self.batch, self.part = epoch, batch, part


# --- the trainer -------------------------------------------------------------------------
class _Run:
    """State of one seed's training; ``fit`` is its only user."""

    def __init__(self, cfg, data, seed, out_dir, device, progress, on_epoch_end) -> None:
        from amccl.model import AMCCL

        self.cfg, self.seed, self.on_epoch_end = cfg, int(seed), on_epoch_end
        self.out = Path(out_dir) if out_dir is not None else None
        self.device = resolve_device(device if device is not None else cfg.device)
        self.show = progress_enabled(progress)
        self.log = get_logger()
        if cfg.amp != "off" and self.device.type != "cuda":
            self.log.warning("amp=%s needs a CUDA device; running fp32 on %s", cfg.amp, self.device)

        seed_everything(self.seed)
        with transformers_bars(self.show):
            self.model = AMCCL(cfg).to(self.device)
        if cfg.freeze_text:
            self.model.text_model.requires_grad_(False)
        self.forward = torch.compile(self.model) if cfg.compile else self.model
        self.splits = _with_text_cache(self.model, data, cfg, self.device)
        self.train_loader = make_loader(self.splits["train"], cfg, True, None)
        steps = len(self.train_loader) * cfg.epochs
        self.optimizer, self.scheduler = build_optimizer(self.model, cfg, steps)
        for _ in self.train_loader.index_batches():  # the reference's "initialise labels" pass
            pass  # draws one train order and reads nothing (spec §8.3)
        fp16 = cfg.amp == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler("cuda", enabled=fp16)
        self.meta = {"data_path": _data_path(data, cfg), "data_sha256": getattr(data, "sha256", None),
                     "data_source": getattr(data, "source", None), "data_release": getattr(data, "release", None),
                     "data_notes": list(getattr(data, "notes", [])),
                     "encoder": encoder_record(cfg, self.model.text_model), **environment_info(self.device)}
        self.history = History(config=cfg.to_dict(), seed=self.seed, meta=self.meta)
        self.epoch, self.best_epoch, self.best_mae = 0, 0, float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None

    # --- one epoch ---
    def train_epoch(self, epoch: int) -> dict[str, float]:
        cfg, model, device = self.cfg, self.model, self.device
        model.train()
        sums = torch.zeros(len(LOSS_PARTS), device=device)
        flags: list[torch.Tensor] = []
        check_now = device.type in _SYNC_FREE_DEVICES  # a GPU check would sync every batch
        bar = progress_bar(self.train_loader, desc=f"epoch {epoch}", leave=False, disable=not self.show, unit="batch")
        for i, batch in enumerate(bar):
            inputs, labels, _ = batch_to(batch, device)
            with autocast(device, cfg.amp):
                outputs = self.forward(**inputs)
            outputs = {k: v.float() for k, v in outputs.items()}  # the loss runs in float32
            losses = amccl_loss(outputs, labels, cfg)
            parts = torch.stack([torch.as_tensor(losses[k], device=device).detach().float() for k in LOSS_PARTS])
            flags.append(torch.isfinite(parts))
            if check_now and not bool(flags[-1].all()):
                self._non_finite(epoch, i, flags[-1])
            self.optimizer.zero_grad(set_to_none=True)
            self.scaler.scale(losses["loss"]).backward()
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.scheduler.step()
            sums += parts
        if flags and not check_now:
            table = torch.stack(flags).cpu()  # (batches, parts): one sync per epoch
            bad = (~table.all(1)).nonzero()
            if len(bad):
                self._non_finite(epoch, int(bad[0]), table[int(bad[0])])
        means = (sums / max(len(self.train_loader), 1)).tolist()
        return {f"train_{k}": v for k, v in zip(LOSS_PARTS, means)}

    def _non_finite(self, epoch: int, batch: int, finite: torch.Tensor) -> None:
        """Raise for batch ``batch`` (0-based) whose parts' finiteness flags are ``finite``."""
        row = dict(zip(LOSS_PARTS, finite.cpu().tolist()))
        part = next(p for p in _BLAME_ORDER if not row[p])
        where = ""
        if self.out is not None:
            where = (f"; the last good checkpoint (epoch {epoch - 1}) in {self.out} is intact" if epoch > 1
                     else "; no checkpoint was written")
        raise NonFiniteLossError(
            f"non-finite loss at epoch {epoch}, batch {batch + 1} of {len(self.train_loader)}: "
            f"loss part '{part}' is not finite (seed {self.seed}){where}",
            epoch, batch + 1, part,
        )

    # --- checkpoints ---
    def _common(self) -> dict[str, Any]:
        return {"format": ckpt.FORMAT, "config": self.cfg.to_dict(), "seed": self.seed, "meta": ckpt.to_plain(self.meta)}

    def save_best(self, epoch: int, valid: dict[str, float], test: dict[str, float] | None = None) -> None:
        if self.out is not None:
            metrics = {"valid": ckpt.to_plain(valid), "test": ckpt.to_plain(test) if test else None}
            ckpt.atomic_save({**self._common(), "kind": "best", "epoch": epoch, "model": self.best_state,
                              "metrics": metrics}, self.out / ckpt.BEST)

    def save_last(self, finished: bool = False) -> None:
        if self.out is None:
            return
        h = self.history
        state = {
            **self._common(), "kind": "last", "epoch": self.epoch, "best_epoch": self.best_epoch,
            "best_mae": self.best_mae, "model": ckpt.cpu_state_dict(self.model),
            "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
            "scaler": self.scaler.state_dict(), "rng": rng_state(),
            "history": ckpt.to_plain(h.epochs), "finished": finished,
        }
        if finished:
            state.update(valid_metrics=ckpt.to_plain(h.valid_metrics), test_metrics=ckpt.to_plain(h.test_metrics),
                         stopped_early=h.stopped_early, test_predictions=ckpt.to_plain(h.test_predictions.to_dict("list")))
        ckpt.atomic_save(state, self.out / ckpt.LAST)

    def resume(self) -> bool:
        """Load ``last.pt`` if there is one; returns whether the run had already finished."""
        path = self.out / ckpt.LAST
        if not path.is_file():
            self.log.warning("resume: no %s yet; starting seed %d from scratch", path, self.seed)
            return False
        last = ckpt.load(path)
        _check_same_run(last, self.cfg, self.seed, path)
        self.model.load_state_dict(last["model"])
        self.optimizer.load_state_dict(last["optimizer"])
        self.scheduler.load_state_dict(last["scheduler"])
        self.scaler.load_state_dict(last["scaler"])
        set_rng_state(last["rng"])
        self.epoch, self.best_epoch, self.best_mae = last["epoch"], last["best_epoch"], last["best_mae"]
        self.history.epochs = list(last["history"])
        if self.best_epoch > 0:
            best = ckpt.load(self.out / ckpt.BEST)
            if best["epoch"] < self.best_epoch:
                raise RuntimeError(f"{self.out / ckpt.BEST} holds epoch {best['epoch']}, "
                                   f"but {path} says the best epoch is {self.best_epoch}")
            # A newer best.pt means the run died between the two writes: that epoch is replayed.
            self.best_state = best["model"]
        if last["finished"]:
            h = self.history
            h.valid_metrics, h.test_metrics = last["valid_metrics"], last["test_metrics"]
            h.stopped_early, h.best_epoch = last["stopped_early"], self.best_epoch
            h.test_predictions = pd.DataFrame(last["test_predictions"])
            self.model.load_state_dict(self.best_state)
        self.log.info("resumed seed %d after epoch %d (best epoch %d)", self.seed, self.epoch, self.best_epoch)
        return bool(last["finished"])

    # --- the loop ---
    def should_stop(self) -> bool:
        return self.epoch >= self.cfg.epochs or self.epoch - self.best_epoch >= self.cfg.early_stop

    def run(self, resume: bool) -> History:
        if resume and self.out is not None and self.resume():
            return self._finish_history()
        cfg, log = self.cfg, self.log
        log.info("seed %d: %s on %s, %d epochs × %d batches (profile %s)", self.seed, cfg.dataset,
                 self.device, cfg.epochs, len(self.train_loader), cfg.profile)
        bar = progress_bar(total=cfg.epochs, initial=self.epoch, desc=f"seed {self.seed}",
                           disable=not self.show, unit="epoch")
        while not self.should_stop():
            epoch = self.epoch + 1
            start = time.perf_counter()
            record: dict[str, Any] = {"epoch": epoch, **self.train_epoch(epoch)}
            valid = evaluate_split(self.model, self.splits["valid"], cfg, self.device, shuffle=True,
                                   forward=self.forward)
            record["valid_loss"] = valid.loss
            record.update({f"valid_{k}": v for k, v in valid.metrics.items()})
            record.update({f"lr_{g['name']}": lr for g, lr in zip(self.optimizer.param_groups, self.scheduler.get_last_lr())})
            record["seconds"] = time.perf_counter() - start
            self.epoch = epoch
            self.history.epochs.append(ckpt.to_plain(record))
            if valid.metrics["MAE"] < self.best_mae:  # strictly lower is better
                self.best_epoch, self.best_mae = epoch, float(valid.metrics["MAE"])
                self.best_state = ckpt.cpu_state_dict(self.model)
                self.save_best(epoch, valid.metrics)
            self.save_last()
            bar.update(1)
            bar.set_postfix(loss=f"{record['train_loss']:.4f}", valid_mae=f"{valid.metrics['MAE']:.4f}", best=self.best_epoch)
            log.debug("seed %d epoch %d: train loss %.4f, valid loss %.4f MAE %.4f (best epoch %d), %.1f s",
                      self.seed, epoch, record["train_loss"], valid.loss, valid.metrics["MAE"],
                      self.best_epoch, record["seconds"])
            if self.on_epoch_end is not None:
                with preserved_rng():  # a callback's draws never change the run (nor a resumed one)
                    self.on_epoch_end(record, self.model)
        bar.close()
        return self._test()

    def _test(self) -> History:
        h = self.history
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        best = next((r for r in h.epochs if r["epoch"] == self.best_epoch), {})
        h.valid_metrics = {k[len("valid_"):]: v for k, v in best.items() if k.startswith("valid_") and k != "valid_loss"}
        test = evaluate_split(self.model, self.splits["test"], self.cfg, self.device, shuffle=True,
                              forward=self.forward)
        h.test_metrics = ckpt.to_plain(test.metrics)
        h.best_epoch = self.best_epoch
        h.stopped_early = self.epoch < self.cfg.epochs
        split = self.splits["test"]
        h.test_predictions = pd.DataFrame({"id": [str(i) for i in split.ids],
                                           "label": np.asarray(split.labels, dtype=np.float64),
                                           "prediction": test.predictions.astype(np.float64)})
        self.save_best(self.best_epoch, h.valid_metrics, h.test_metrics)
        self.save_last(finished=True)
        if self.out is not None:
            h.to_frame().to_csv(self.out / "history.csv")
            h.test_predictions.to_csv(self.out / "predictions.csv", index=False)
        self.log.info("seed %d: best epoch %d of %d, test MAE %.4f", self.seed, self.best_epoch,
                      self.epoch, h.test_metrics["MAE"])
        return self._finish_history()

    def _finish_history(self) -> History:
        self.model.eval()
        self.history.model = self.model
        return self.history


def _with_text_cache(model, data, cfg: AMCCLConfig, device) -> dict[str, Any]:
    """The three splits, copied with ``text_feats`` when the frozen-text cache is on."""
    splits = {name: getattr(data, name) for name in ("train", "valid", "test")}
    if not (cfg.freeze_text and cfg.cache_text):
        return splits
    out = {}
    for name, split in splits.items():
        out[name] = copy.copy(split)  # the caller's split is left untouched
        out[name].text_feats = _text_features(model, split.text, cfg, device).to(device)
    return out


# A frozen *pretrained* encoder gives the same cache rows in every run of a process (all the
# variants and seeds of an ablation grid): the last few are kept, keyed by the encoder, the
# device and a digest of the token rows. A random encoder (tiny-random) depends on the seed.
_TEXT_CACHE: OrderedDict[tuple, torch.Tensor] = OrderedDict()
_TEXT_CACHE_SIZE = 6


def _text_features(model, text: np.ndarray, cfg: AMCCLConfig, device) -> torch.Tensor:
    """(N, 3, H) frozen-text cache rows of ``text`` (N, 3, Lt), on the CPU."""
    from amccl.config import TINY_RANDOM
    from amccl.model import precompute_text_features

    ids = np.ascontiguousarray(text)
    if cfg.text_encoder == TINY_RANDOM:
        return precompute_text_features(model, torch.as_tensor(ids), 256, device)
    key = (cfg.text_encoder, str(device), ids.shape, str(ids.dtype),
           hashlib.blake2b(ids.data, digest_size=16).hexdigest())
    feats = _TEXT_CACHE.get(key)
    if feats is None:
        feats = precompute_text_features(model, torch.as_tensor(ids), 256, device)
        _TEXT_CACHE[key] = feats
        while len(_TEXT_CACHE) > _TEXT_CACHE_SIZE:
            _TEXT_CACHE.popitem(last=False)
    _TEXT_CACHE.move_to_end(key)
    return feats


def _data_path(data, cfg: AMCCLConfig) -> str:
    path = getattr(data, "path", None)
    if path:
        return str(path)
    sizes = ",".join(str(s) for s in cfg.synthetic_sizes)
    return f"embedded:{cfg.dataset}(sizes={sizes}, seed={cfg.synthetic_seed})"


_MAY_DIFFER_ON_RESUME = ("device", "compile")


def _check_same_run(last: dict[str, Any], cfg: AMCCLConfig, seed: int, path: Path) -> None:
    if last.get("seed") != seed:
        raise ValueError(f"resume: {path} belongs to seed {last.get('seed')}, not {seed}")
    saved, now = last["config"], cfg.to_dict()
    diff = sorted(k for k in set(saved) | set(now)
                  if k not in _MAY_DIFFER_ON_RESUME and saved.get(k) != now.get(k))
    if diff:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {now.get(k)!r}" for k in diff)
        raise ValueError(f"resume: the config differs from the one in {path} ({changes}); use a new out_dir")


# --- public entry points -------------------------------------------------------------------
def fit(
    cfg: AMCCLConfig, data=None, seed: int = 1111, out_dir: str | Path | None = None,
    resume: bool = False, progress: bool = True, device: str | torch.device | None = None,
    on_epoch_end: Callable[[dict[str, Any], nn.Module], None] | None = None,
) -> History:
    """Train one seed as the paper did (spec §4) and return its :class:`History`.

    Args:
        cfg: the run's config (``AMCCLConfig.for_dataset(...)``).
        data: an ``MMSAData``; ``None`` loads ``cfg``'s (the embedded default when
            ``cfg.data_path`` is None).
        seed: seeds python, numpy, torch (CPU, CUDA); with the default config the run is
            the paper code's run for that seed, draw for draw (initial weights, data order,
            dropout masks: spec §8), so its validation loss and MAE per epoch, best epoch and
            test metrics are the reference's on CPU (to float rounding), and on a GPU up to
            the GPU's own nondeterminism.
        out_dir: where ``best.pt``, ``last.pt``, ``history.csv`` and ``predictions.csv``
            (test split) go; ``None`` writes nothing.
        resume: continue from ``out_dir/last.pt`` (same config and seed); a finished run is
            returned as it was, without training.
        progress: tqdm bars for epochs and batches (never under ``CI``).
        device: overrides ``cfg.device`` (``auto``: CUDA, else MPS, else CPU).
        on_epoch_end: called as ``on_epoch_end(record, model)`` after each epoch's
            checkpoint is written (live plots, custom stopping by raising).

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
    check_run_encoder(cfg)  # before any work: the paper's encoder is there, the file's language fits
    if data is None:
        from amccl.data import load_data

        data = load_data(cfg)
    if isinstance(data, MMSAData):
        check_data_for_config(data, cfg)
        check_run_encoder(cfg, data)  # token ids within the encoder's vocabulary
    run = _Run(cfg, data, seed, out_dir, device, progress, on_epoch_end)
    return run.run(resume)


def run_seeds(
    cfg: AMCCLConfig, seeds: list[int] | tuple[int, ...] | None = None, data=None,
    out_dir: str | Path | None = None, resume: bool = False, progress: bool = True,
    device: str | torch.device | None = None,
) -> pd.DataFrame:
    """Train one run per seed (default ``cfg.seeds``: 1111-1115, the MMSA convention).

    Each seed writes into ``out_dir/seed_<seed>/``; ``out_dir`` also gets ``results.csv``
    (one row per seed, metrics ×100 rounded to 2) and ``summary.csv`` (mean, std with
    ``ddof=0`` as MMSA, and ``mean ± std``).

    Returns:
        The results DataFrame: one row per seed with the test metrics ×100 (unrounded), the
        best epoch, seconds, data path and sha256, package versions, device and config JSON.
        ``summarize(frame)`` gives the mean/std table.
    """
    seeds = list(cfg.seeds if seeds is None else seeds)
    check_run_encoder(cfg)
    if data is None:
        from amccl.data import load_data

        data = load_data(cfg)
    histories = []
    for seed in seeds:
        run_dir = Path(out_dir) / f"seed_{seed}" if out_dir is not None else None
        history = fit(cfg, data, seed, run_dir, resume=resume, progress=progress, device=device)
        history.model = None  # keep memory flat over many seeds; weights are in best.pt
        histories.append(history)
    results = results_frame(histories)
    if out_dir is not None:
        write_results(results, out_dir, cfg.dataset)
    get_logger().debug("%s over seeds %s:\n%s", cfg.dataset, seeds,
                      paper_row(summarize(results, cfg.dataset)).to_string())
    return results
