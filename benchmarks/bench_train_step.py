"""A full training step (forward, loss, backward, AdamW step): samples per second, side by side.

Model ``AMCCL(AMCCLConfig.for_dataset("mosi"))`` (the embedded MiniLM text encoder, the
paper's MOSI sizes), one random MOSI-shaped batch (B = 64, Lt = La = Lv = 50, random valid
lengths), timed interleaved:

* ``straightforward fp32`` -- a minimal plain-PyTorch transcription of the step of docs/model.md §3-4,
  written here: the same model forward, the *literal* loss (``tests/literal_loss.py``), a plain
  ``torch.optim.AdamW`` over the five groups of docs/model.md §4 with transformers' cosine schedule,
  and the usual ``loss.item()`` per step;
* ``ours fp32`` -- the trainer's own step, :func:`amccl.train.train_step`: ``batch_to``, the
  same forward, the batched ``amccl_loss``, the parts kept on the device,
  ``zero_grad(set_to_none)``, the (disabled in fp32) ``GradScaler``,
  ``amccl.optim.build_optimizer``'s AdamW (``foreach``) + schedule; the epoch loop keeps each
  step's parts on the device (checked and summed once per epoch);
* ``ours freeze_text + cache`` -- ``freeze_text=True`` (BERT without gradients) fed the
  ``text_feats`` rows of ``amccl.evaluation.text_cache_rows`` (built once, untimed);
* ``ours freeze_text, no cache`` -- the frozen BERT run every step (reference ``use_finetune=False``);
* ``(part) audio + vision encoders`` -- only the two transformer encoders' forward + backward,
  the floor under every step that a text cache cannot remove.

On a CUDA device (``--device cuda``; the default when CUDA is present) it adds ``ours bf16``
(autocast bfloat16 forward, float32 loss, as ``cfg.amp="bf16"`` in the trainer) and
``ours freeze_text + cache bf16``, and reports peak GPU memory per way. Without CUDA those
lines print ``skipped: no CUDA`` (``--bf16`` adds them on a CPU, with CPU autocast).

Both fine-tuning ways move the batch to the device every step, as a training loop does.

Checks printed before the timings: ``ours`` and ``straightforward`` start from the same
weights and give the same loss and gradients on the same batch (same dropout draws); ours
and the plain ``torch.optim.AdamW`` give bit-identical weights after the same steps; cached
and uncached frozen text give the same outputs in eval mode.

``--profile N`` first runs N steps of the two fine-tuning ways with a clock between phases
(batch to device, forward split by encoder, loss, zero_grad, backward, optimizer, schedule and
logging; ours counts the batch's move in its forward and zero_grad in its loss) and N
forward + backward passes of the BERT alone and of the audio + vision encoders alone (their
backward shares of the full step's backward), and prints the medians.

Usage: ``python benchmarks/bench_train_step.py`` (``--rounds``, ``--batch``, ``--threads``,
``--device``, ``--profile N``, ``--compile`` adds ``ours fp32 + torch.compile(model)``, ``--json PATH`` writes the
figures, ``--text-encoder tiny-random`` for toy-size test runs).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from collections import defaultdict

import torch  # noqa: E402
from common import command_line, cuda_available, fmt_time, interleaved, machine_line, table, target

from amccl.config import AMCCLConfig  # noqa: E402
from amccl.evaluation import text_cache_rows  # noqa: E402
from amccl.losses import amccl_loss  # noqa: E402
from amccl.model import AMCCL  # noqa: E402
from amccl.optim import build_optimizer, parameter_groups  # noqa: E402
from amccl.train import train_step  # noqa: E402
from tests.literal_loss import literal_amccl_loss  # noqa: E402

INPUTS = ("text", "audio", "vision", "audio_lengths", "vision_lengths")


def random_batch(cfg: AMCCLConfig, batch: int, seed: int = 0) -> dict[str, torch.Tensor]:
    """Random MOSI-shaped inputs: token ids under a random-length mask, features, lengths, labels."""
    g = torch.Generator().manual_seed(seed)
    lt, la, lv = cfg.text_len, cfg.audio_len, cfg.vision_len
    text_lengths = torch.randint(3, lt + 1, (batch,), generator=g)
    mask = (torch.arange(lt).unsqueeze(0) < text_lengths.unsqueeze(1)).long()
    ids = torch.randint(1000, 30000, (batch, lt), generator=g) * mask
    ids[:, 0] = 101  # [CLS]
    return dict(
        text=torch.stack([ids, mask, torch.zeros_like(ids)], 1),
        audio=torch.randn(batch, la, cfg.audio_dim, generator=g),
        vision=torch.randn(batch, lv, cfg.vision_dim, generator=g),
        audio_lengths=torch.randint(1, la + 1, (batch,), generator=g),
        vision_lengths=torch.randint(1, lv + 1, (batch,), generator=g),
        labels=torch.round(torch.empty(batch).uniform_(-3, 3, generator=g) * 5) / 5,
    )


def spec_groups(model: torch.nn.Module, cfg: AMCCLConfig) -> list[dict]:
    """The five AdamW groups of docs/model.md §4, written out plainly (the straightforward way)."""
    no_decay = ("bias", "LayerNorm.bias", "LayerNorm.weight")
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    bert = [(n, p) for n, p in named if n.startswith("text_model.")]
    return [
        {"params": [p for n, p in bert if not any(nd in n for nd in no_decay)], "lr": cfg.lr_bert, "weight_decay": cfg.wd_bert},
        {"params": [p for n, p in bert if any(nd in n for nd in no_decay)], "lr": cfg.lr_bert, "weight_decay": 0.0},
        {"params": [p for n, p in named if n.startswith("audio_model.")], "lr": cfg.lr_audio, "weight_decay": cfg.wd_audio},
        {"params": [p for n, p in named if n.startswith("video_model.")], "lr": cfg.lr_video, "weight_decay": cfg.wd_video},
        {"params": [p for n, p in named if not n.startswith(("text_model.", "audio_model.", "video_model."))],
         "lr": cfg.lr_other, "weight_decay": cfg.wd_other},
    ]


class Clock:
    """Per-phase times of the steps it is handed: ``mark(phase)`` charges the time since the
    previous mark (or ``start``) to ``phase``. Thread CPU time on a CPU (one thread: the work,
    without preemption), synchronised wall time on a GPU."""

    def __init__(self, device: torch.device | None = None) -> None:
        self.device = device
        self.times: dict[str, list[float]] = defaultdict(list)
        self.last = 0.0

    def _now(self) -> float:
        if self.device is not None and self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            return time.perf_counter()
        return time.thread_time()

    def start(self) -> None:
        self.last = self._now()

    def mark(self, phase: str) -> None:
        if self.device is None:  # the timing runs: no clock
            return
        now = self._now()
        self.times[phase].append(now - self.last)
        self.last = now

    def medians(self) -> dict[str, float]:
        """Median seconds per phase, summed over a step's marks of that phase."""
        return {phase: statistics.median(t) for phase, t in self.times.items()}


NO_CLOCK = Clock()


class Way:
    """One way of stepping: a model, its optimizer and a ``step(clock=NO_CLOCK)`` closure."""

    def __init__(self, name: str, model: AMCCL, step, optimizer) -> None:
        self.name, self.model, self.step, self.optimizer = name, model, step, optimizer


def straightforward(cfg: AMCCLConfig, state: dict, batch: dict, device: torch.device, total: int) -> Way:
    """The step of docs/model.md §3-4 as a user would write it with plain PyTorch and transformers."""
    from transformers import get_cosine_schedule_with_warmup

    model = AMCCL(cfg).to(device)
    model.load_state_dict(state)
    model.train()
    optimizer = torch.optim.AdamW(spec_groups(model, cfg))
    scheduler = get_cosine_schedule_with_warmup(optimizer, int(0.1 * total), total)
    log: list[float] = []

    def step(clock: Clock = NO_CLOCK):
        inputs = {k: batch[k].to(device) for k in INPUTS}
        labels = batch["labels"].to(device)
        clock.mark("batch to device")
        outputs = model(**inputs)
        clock.mark("forward: rest (checks, pooling, fusion, head)")
        loss = literal_amccl_loss(outputs, labels, cfg)["loss"]
        clock.mark("loss")
        optimizer.zero_grad()
        clock.mark("zero_grad")
        loss.backward()
        clock.mark("backward")
        optimizer.step()
        clock.mark("optimizer step")
        scheduler.step()
        log.append(loss.item())  # the usual per-step logging (a host-device sync on a GPU)
        clock.mark("schedule + logging")

    return Way("straightforward fp32", model, step, optimizer)


class ClockedScaler:
    """The trainer's ``GradScaler`` for ``--profile``: marks ``clock`` where :func:`train_step`
    hands it the loss (forward, loss, parts kept and ``zero_grad`` done), the backward's end
    and the optimizer step's end."""

    def __init__(self, scaler: torch.amp.GradScaler, clock: Clock) -> None:
        self.scaler, self.clock = scaler, clock

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        self.clock.mark("loss")
        return self.scaler.scale(loss)

    def step(self, optimizer: torch.optim.Optimizer) -> None:
        self.clock.mark("backward")
        self.scaler.step(optimizer)
        self.clock.mark("optimizer step")

    def update(self) -> None:
        self.scaler.update()


def ours(name: str, cfg: AMCCLConfig, state: dict, batch: dict, device: torch.device, total: int,
         amp: str = "off", text_cache: bool = False, compile_model: bool = False) -> Way:
    """:func:`amccl.train.train_step` on one fixed batch, its parts kept as the epoch loop keeps them."""
    model = AMCCL(cfg).to(device)
    model.load_state_dict(state)
    if cfg.freeze_text:
        model.text_model.requires_grad_(False)
    loader_batch = {**batch, "index": torch.arange(len(batch["labels"]))}  # what BatchLoader yields
    if text_cache:
        loader_batch["text_feats"] = text_cache_rows(model, batch["text"], device=device)
    model.train()
    forward = torch.compile(model) if compile_model else model
    if amp == "bf16" and device.type != "cuda":  # the trainer autocasts on CUDA only: --bf16 on a CPU
        forward = cpu_bf16(forward)
    step_cfg = cfg.replace(amp=amp)
    optimizer, scheduler = build_optimizer(model, cfg, total)
    scaler = torch.amp.GradScaler("cuda", enabled=False)  # the trainer's, off unless amp="fp16" on CUDA
    kept: list[torch.Tensor] = []

    def step(clock: Clock = NO_CLOCK):
        parts = train_step(forward, loader_batch, optimizer, scheduler,
                           scaler if clock is NO_CLOCK else ClockedScaler(scaler, clock), step_cfg, device)
        kept.append(parts)  # the epoch loop keeps every step's parts (on the device) for the epoch's end
        if len(kept) > 1000:
            kept.clear()
        clock.mark("schedule + logging")

    return Way(name, model, step, optimizer)


def cpu_bf16(forward):
    """``forward`` under CPU bfloat16 autocast (``--bf16`` off a GPU)."""

    def run(**inputs):
        with torch.autocast("cpu", dtype=torch.bfloat16):
            return forward(**inputs)

    return run


def encoders_only(cfg: AMCCLConfig, state: dict, batch: dict, device: torch.device) -> Way:
    """Only the audio and vision transformers, forward + backward (train mode): the part of
    every step that no text cache removes (docs/model.md §2.2: FF size 2048 on every frame, dropout)."""
    model = AMCCL(cfg).to(device)
    model.load_state_dict(state)
    model.train()
    audio, vision = batch["audio"].to(device), batch["vision"].to(device)

    def step(clock: Clock = NO_CLOCK):
        model.zero_grad(set_to_none=True)
        clock.mark("zero_grad")
        out = model.audio_model(audio).sum() + model.video_model(vision).sum()
        clock.mark("forward")
        out.backward()
        clock.mark("backward")

    return Way("(part) audio + vision encoders", model, step, None)


def bert_only(cfg: AMCCLConfig, state: dict, batch: dict, device: torch.device) -> Way:
    """Only the fine-tuned BERT, forward + backward (train mode); for ``--profile``."""
    model = AMCCL(cfg).to(device)
    model.load_state_dict(state)
    model.train()
    text = batch["text"].to(device)

    def step(clock: Clock = NO_CLOCK):
        model.zero_grad(set_to_none=True)
        clock.mark("zero_grad")
        out = model.text_model(text).sum()
        clock.mark("forward")
        out.backward()
        clock.mark("backward")

    return Way("(part) BERT", model, step, None)


ENCODERS = {"text_model": "forward: BERT", "audio_model": "forward: audio encoder",
            "video_model": "forward: vision encoder"}


def clock_encoders(model: AMCCL, clock: Clock) -> list:
    """Forward hooks that charge each encoder's forward to its own phase; returns the handles."""
    handles = []
    for attr, phase in ENCODERS.items():
        module = getattr(model, attr)
        handles.append(module.register_forward_pre_hook(
            lambda *_: clock.mark("forward: rest (checks, pooling, fusion, head)")))
        handles.append(module.register_forward_hook(lambda *_, phase=phase: clock.mark(phase)))
    return handles


def profile(ways: list[Way], parts: list[Way], steps: int, device: torch.device) -> dict[str, dict[str, float]]:
    """Median seconds per phase of ``steps`` clocked steps of each way, interleaved (after one
    unclocked warm-up step each); ``parts`` (components run alone) too."""
    clocks = {w.name: Clock(device) for w in ways + parts}
    handles = [h for w in ways for h in clock_encoders(w.model, clocks[w.name])]
    for w in ways + parts:
        w.step()
    for r in range(steps):
        for w in (ways + parts if r % 2 == 0 else (ways + parts)[::-1]):
            clocks[w.name].start()
            w.step(clocks[w.name])
    for h in handles:
        h.remove()
    return {name: clock.medians() for name, clock in clocks.items()}


def print_profile(prof: dict[str, dict[str, float]], first: str, second: str) -> None:
    """The phases of the two full ways side by side (ms, share of the second's step), then the
    second's backward split by the components' alone-backward times."""
    phases = list(dict.fromkeys([*prof[second], *prof[first]]))
    totals = {w: sum(prof[w].values()) for w in (first, second)}
    rows = [[p, *(f"{prof[w][p] * 1e3:.1f}" if p in prof[w] else "-" for w in (first, second)),
             f"{prof[second].get(p, 0.0) / totals[second]:.1%}"] for p in phases]
    rows.append(["step (sum of phases)", *(f"{totals[w] * 1e3:.1f}" for w in (first, second)), "100%"])
    print(table(["phase (median ms)", first, second, f"share of {second}"], rows))
    backward = prof[second]["backward"]
    split = {"BERT": prof["(part) BERT"]["backward"],
             "audio + vision encoders": prof["(part) audio + vision encoders"]["backward"]}
    split["rest (heads, fusion, loss)"] = backward - sum(split.values())
    print(f"{second} backward {backward * 1e3:.1f} ms, split by the components run alone: " + ", ".join(
        f"{k} {v * 1e3:.1f} ms ({v / totals[second]:.1%} of the step)" for k, v in split.items()))


def check_optimizer(model: AMCCL, cfg: AMCCLConfig, steps: int = 3) -> int:
    """Elements that differ between ``build_optimizer``'s AdamW and a plain ``torch.optim.AdamW``
    over the same groups and schedule (10 planned steps) after ``steps`` steps from the same
    random gradients."""
    from transformers import get_cosine_schedule_with_warmup

    a, b = copy.deepcopy(model), copy.deepcopy(model)
    plain = torch.optim.AdamW(parameter_groups(b, cfg))
    pairs = (build_optimizer(a, cfg, 10), (plain, get_cosine_schedule_with_warmup(plain, int(cfg.warmup_ratio * 10), 10)))
    for s in range(steps):
        for m, (optimizer, scheduler) in zip((a, b), pairs):
            g = torch.Generator().manual_seed(s)
            for p in m.parameters():
                p.grad = torch.randn(p.shape, generator=g).to(p.device)
            optimizer.step()
            scheduler.step()
    return sum(int((pa != pb).sum()) for pa, pb in zip(a.parameters(), b.parameters()))


def check_same_step(a: Way, b: Way, cfg: AMCCLConfig, batch: dict, device: torch.device) -> tuple[float, float]:
    """(loss rel. diff, max |grad diff| / max |grad|) of two ways' models on one batch, same
    dropout draws (relative to the largest gradient: some are exactly 0 in theory, e.g.
    attention key biases, and only rounding noise in practice)."""
    labels = batch["labels"].to(device)
    inputs = {k: batch[k].to(device) for k in INPUTS}
    results = []
    for way, loss_fn in ((a, literal_amccl_loss), (b, amccl_loss)):
        model = copy.deepcopy(way.model).train()
        torch.manual_seed(123)
        loss = loss_fn(model(**inputs), labels, cfg)["loss"]
        loss.backward()
        results.append((loss.detach().double(), {n: p.grad.double() for n, p in model.named_parameters() if p.grad is not None}))
    (la, ga), (lb, gb) = results
    largest = max(float(g.abs().max()) for g in ga.values())
    grad_diff = max(float((ga[n] - gb[n]).abs().max()) for n in ga) / largest
    return float((la - lb).abs() / la.abs()), grad_diff


def peak_memory(way: Way, device: torch.device) -> float | None:
    """Peak GPU memory (MiB) of one step of ``way``; None off a GPU."""
    if device.type != "cuda":
        return None
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    way.step()
    torch.cuda.synchronize(device)
    return torch.cuda.max_memory_allocated(device) / 2**20


def write_json(path: str, res: dict, key: str, batch: int, memory: dict[str, float | None],
               device: torch.device) -> None:
    """``{"device", "batch", "ways": {way: {"step_s", "samples_per_s", "peak_mem_mib"}}}`` (peak memory
    None off a GPU); ``step_s`` is the median the ratios use (CPU time with one CPU thread, else wall)."""
    ways = {name: {"step_s": r[key], "samples_per_s": batch / r[key],
                   "peak_mem_mib": memory[name]}
            for name, r in res.items()}
    with open(path, "w") as f:
        json.dump({"device": device.type, "batch": batch, "ways": ways}, f, indent=1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=64, help="B (MOSI's batch size by default)")
    parser.add_argument("--rounds", type=int, default=4, help="interleaved rounds (median over them)")
    parser.add_argument("--cheap-inner", type=int, default=5,
                        help="steps per round for the ways without BERT backward (fine-tuning ways: 1)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads on CPU (default 1: on a machine shared with other "
                             "jobs, a parallel region waits for a preempted thread; a 0.1 ms conv took "
                             "20 ms with 2 threads here). 0 = torch's default")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="first print a per-phase profile of N steps of the two fine-tuning ways (0: none)")
    parser.add_argument("--compile", action="store_true", help="add ours fp32 + torch.compile(model)")
    parser.add_argument("--bf16", action="store_true",
                        help="add the bf16 autocast ways on a CPU too (always added on a GPU)")
    parser.add_argument("--text-encoder", default="minilm",
                        help="text_encoder (default: the embedded minilm; tiny-random for toy-size test runs)")
    parser.add_argument("--json", help="also write every way's figures to this JSON file")
    args = parser.parse_args()
    device = torch.device(args.device or ("cuda" if cuda_available() else "cpu"))
    if args.threads and device.type == "cpu":
        torch.set_num_threads(args.threads)
    if device.type == "cuda" and not cuda_available():
        print("skipped: no CUDA")
        return
    print(machine_line(device))
    print(f"command: {command_line()}")
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder=args.text_encoder)  # the embedded minilm by default
    frozen = cfg.replace(freeze_text=True)
    batch = random_batch(cfg, args.batch)
    torch.manual_seed(0)
    state = AMCCL(cfg).state_dict()
    total = 1000  # planned steps for the schedule (only the lr values depend on it)
    build_start = time.perf_counter()
    ways = [
        straightforward(cfg, state, batch, device, total),
        ours("ours fp32", cfg, state, batch, device, total),
        ours("ours freeze_text + cache", frozen, state, batch, device, total, text_cache=True),
        ours("ours freeze_text, no cache", frozen, state, batch, device, total),
    ]
    ways.append(encoders_only(frozen, state, batch, device))
    if args.compile:
        ways.append(ours("ours fp32 + compile", cfg, state, batch, device, total, compile_model=True))
    if device.type == "cuda" or args.bf16:
        ways.append(ours("ours bf16", cfg, state, batch, device, total, amp="bf16"))
        ways.append(ours("ours freeze_text + cache bf16", frozen, state, batch, device, total, amp="bf16", text_cache=True))
    print(f"built {len(ways)} ways in {time.perf_counter() - build_start:.1f} s")

    loss_diff, grad_diff = check_same_step(ways[0], ways[1], cfg, batch, device)
    print(f"check: ours vs straightforward on the same batch and weights: loss rel. diff {loss_diff:.1e}, "
          f"max |grad diff| / max |grad| {grad_diff:.1e}")
    print("check: ours' AdamW (foreach) vs plain torch.optim.AdamW, 3 steps from the same gradients: "
          f"{check_optimizer(ways[1].model, cfg)} weights differ")
    with torch.no_grad():
        model = ways[2].model.eval()
        feats = text_cache_rows(model, batch["text"], device=device).to(device)
        inputs = {k: batch[k].to(device) for k in INPUTS}
        cached, direct = model(**inputs, text_feats=feats), model(**inputs)
        print("check: frozen text, cached vs uncached outputs (eval mode): max abs diff "
              f"{max(float((cached[k] - direct[k]).abs().max()) for k in cached):.1e}")
        model.train()

    if args.profile:
        prof = profile(ways[:2], [bert_only(cfg, state, batch, device), ways[4]], args.profile, device)
        print(f"\nprofile, {args.profile} clocked steps per way, "
              f"{'thread CPU time' if device.type == 'cpu' else 'synchronised wall time'}:")
        print_profile(prof, "straightforward fp32", "ours fp32")
        print()
    if args.compile:
        start = time.perf_counter()
        ways[5].step()
        print(f"ours fp32 + compile: first step (compile + run) took {time.perf_counter() - start:.1f} s")
    expensive = {"straightforward fp32", "ours fp32", "ours fp32 + compile", "ours bf16"}
    inner = {w.name: 1 if w.name in expensive else args.cheap_inner for w in ways}
    memory = {w.name: peak_memory(w, device) for w in ways}
    # One CPU thread: the thread's CPU time is the step's work, without the time other jobs
    # on a shared machine held the core (wall time is printed too).
    cpu_clock = device.type == "cpu" and torch.get_num_threads() == 1
    res = interleaved({w.name: w.step for w in ways}, args.rounds, inner, warmup=1, device=device, cpu_clock=cpu_clock)
    key = "cpu" if cpu_clock else "median"
    base, finetune = res["straightforward fp32"][key], res["ours fp32"][key]
    rows = []
    for w in ways:
        r = res[w.name]
        rows.append([w.name, fmt_time(r["median"]), f"{fmt_time(r['q1'])} – {fmt_time(r['q3'])}",
                     fmt_time(r["cpu"]) if cpu_clock else "-", f"{args.batch / r[key]:.1f}",
                     f"{base / r[key]:.2f}x", f"{finetune / r[key]:.2f}x",
                     "-" if memory[w.name] is None else f"{memory[w.name]:.0f} MiB"])
    print(f"\ntraining step, MOSI shapes, B = {args.batch}, {args.rounds} rounds "
          f"(1 step per round for fine-tuning ways, {args.cheap_inner} for the others), device {device.type}; "
          f"samples/s and ratios from the {'CPU' if cpu_clock else 'wall'} median")
    print(table(["way", "median step (wall)", "IQR (wall)", "median CPU", "samples/s", "vs straightforward",
                 "vs ours fp32", "peak GPU mem"], rows))
    if args.json:
        write_json(args.json, res, key, args.batch, memory, device)
    ratio = base / finetune
    verdict = "met" if ratio >= 0.99 else "not met"
    target(f"train step fp32, {device.type}: ours vs straightforward", f"{ratio:.3f}x ({key} median)",
           ">= 1.0x (no slower, 1% noise)", verdict)
    ratio = finetune / res["ours freeze_text + cache"][key]
    target(f"train step, {device.type}: freeze_text + cache vs fine-tuning (ours fp32)", f"{ratio:.1f}x ({key} median)",
           ">= 10x", "met" if ratio >= 10 else "not met")
    if "ours bf16" in res:
        ratio = finetune / res["ours bf16"][key]
        target(f"train step, {device.type}: bf16 vs fp32", f"{ratio:.2f}x ({key} median)", ">= 2x (GPU)",
               "met" if ratio >= 2 else "not met")
    if device.type != "cuda":
        print("GPU bf16 vs fp32: skipped: no CUDA")
        target("train step, GPU: bf16 vs fp32", "not measured (no CUDA)", ">= 2x", "not measured")


if __name__ == "__main__":
    main()
