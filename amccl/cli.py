"""Command line: ``python -m amccl train|evaluate|predict|ablate|tune ...``.

Examples::

    python -m amccl train --dataset mosi --profile smoke --seeds 1111   # seconds, CPU
    python -m amccl train --dataset mosi --profile demo --seeds 1111    # minutes, CPU
    AMCCL_BERT_EN=/models/bert-base-uncased \
    python -m amccl train --dataset mosi --data MOSI/Processed/unaligned_50.pkl --out runs/mosi
    python -m amccl train --dataset mosi --out runs/mosi --resume       # continue a killed run
    python -m amccl evaluate --checkpoint runs/mosi/seed_1111/best.pt --dataset mosi
    python -m amccl predict --checkpoint runs/mosi/seed_1111/best.pt --data my_clips.pkl  # no labels needed
    python -m amccl tune --dataset mosi --trials 50      # optuna on the validation split, then the seeds on test

A bad option ends with one ``amccl <command>: error: ...`` line on stderr (exit status 2), a
failure while running with one too (exit status 1; ``AMCCL_DEBUG=1`` shows the traceback).
Tables end with ``note: ...`` lines when the numbers are not comparable with the paper's.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from amccl.cli_options import CLIError, config_from_args, config_options, error_message, existing_file
from amccl.config import AMCCLConfig


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors: ``amccl train: error: ... (see --help)``."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="amccl", description="Train and evaluate AMCCL (multimodal sentiment analysis).")
    sub = parser.add_subparsers(dest="command", metavar="{train,evaluate,predict,ablate,tune}", parser_class=_Parser)
    sub.required = True

    train = sub.add_parser("train", help="train one run per seed and report the table papers print",
                           description="Train AMCCL as the paper did (docs/model.md §4), one run per seed; writes "
                           "seed_<seed>/{best.pt,last.pt,history.csv,predictions.csv}, results.csv and "
                           "summary.csv (metrics as fractions, mean and std over seeds) into --out and prints "
                           "the seeds' table (accuracies and F1 in %, MAE and Corr as fractions). On a terminal "
                           "progress bars; when stderr is a file or a pipe, one log line per epoch.")
    config_options(train)
    train.set_defaults(func=cmd_train)
    train.add_argument("--seeds", type=int, nargs="+", metavar="SEED", default=None,
                       help="seeds to run (default: the config's, 1111 1112 1113 1114 1115)")
    train.add_argument("--out", metavar="DIR", default=None,
                       help="output directory (default: runs/<dataset>-<profile>-<timestamp>)")
    train.add_argument("--no-baselines", action="store_true",
                       help="skip the baselines scored beside the seeds on the same test split (the constant, a ridge "
                            "probe on the frozen text encoder's mean token embedding, and one on it with the mean audio "
                            "and vision features; seconds on a CPU): the table, summary.csv's rows and baselines.csv")
    train.add_argument("--resume", action="store_true",
                       help="continue the runs in --out from their last.pt; finished seeds are reused")
    train.add_argument("--official-csv", action="store_true",
                       help="also write <dataset>-regression.csv in the paper code's layout: columns Model, Seed, "
                            "gamma, every metric, Loss (test mean batch L1), each ×100 rounded to 2 (MAE 0.6959 -> "
                            "69.59); the only file with ×100 numbers")
    train.add_argument("--quiet", action="store_true", help="no progress bars or per-epoch lines, warnings only")
    train.add_argument("--verbose", action="store_true", help="debug log lines too")

    evaluate = sub.add_parser("evaluate", help="score a checkpoint on one split and write predictions.csv",
                              description="Evaluate our best.pt/last.pt or an official-code state dict (keys "
                              "Model.*): prints the metrics (accuracies and F1 in %, MAE and Corr as fractions) and "
                              "writes predictions.csv (id, label, prediction) and metrics.json into --out. The "
                              "checkpoint holds every BERT weight: no pretrained encoder directory is needed.")
    config_options(evaluate, required=False, profile=False)
    evaluate.set_defaults(func=cmd_evaluate)
    evaluate.add_argument("--checkpoint", metavar="PATH", required=True,
                          help="our best.pt / last.pt, or the official code's torch.save(model.state_dict())")
    evaluate.add_argument("--split", choices=("train", "valid", "test"), default="test",
                          help="split to score (default: test)")
    evaluate.add_argument("--out", metavar="DIR", default=None,
                          help="output directory (default: <checkpoint dir>/eval-<split>)")
    from amccl.ablations.cli import add_ablate_parser
    from amccl.predict import add_predict_parser
    from amccl.tuning.cli import add_tune_parser

    add_predict_parser(sub)
    add_ablate_parser(sub)
    add_tune_parser(sub)
    return parser


def cmd_train(args) -> int:
    from amccl.bert import check_run_encoder
    from amccl.metrics import DISPLAY_NOTE
    from amccl.published import comparison_text
    from amccl.results import seed_table, write_official_csv
    from amccl.runtime import get_logger
    from amccl.train import run_seeds

    cfg = config_from_args(args)
    if args.resume and args.out is None:
        raise CLIError("--resume needs --out DIR (the directory of the run to continue)")
    check_run_encoder(cfg)  # before any work: the encoder is there and fits --data's language
    out = Path(args.out or f"runs/{cfg.dataset}-{cfg.profile}-{time.strftime('%Y%m%d-%H%M%S')}")
    get_logger(logging.WARNING if args.quiet else (logging.DEBUG if args.verbose else logging.INFO))
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(cfg.to_dict(), indent=2, sort_keys=True) + "\n")
    results = run_seeds(cfg, seeds=args.seeds, out_dir=out, resume=args.resume, progress=not args.quiet,
                        baselines=not args.no_baselines)
    table = seed_table(results, cfg.dataset)
    print(f"{cfg.dataset} test metrics ({len(results)} seed(s), profile {cfg.profile}; {DISPLAY_NOTE}):")
    print(table.to_string())
    print("".join(f"note: {note}\n" for note in table.attrs.get("notes", [])), end="")
    if "baselines" in results.attrs:
        import pandas as pd

        from amccl.baselines import baseline_report
        from amccl.metrics import primary_metrics

        print("\n" + baseline_report(results[primary_metrics(cfg.dataset)], pd.DataFrame(results.attrs["baselines"]),
                                     cfg.dataset))
    print(comparison_text(results, cfg.dataset))  # published rows only for a published MMSA file (by hash)
    print(f"results: {out / 'results.csv'}  summary: {out / 'summary.csv'}")
    if args.official_csv:
        print(f"official layout (every metric ×100): {write_official_csv(results, out, cfg.dataset)}")
    return 0


def cmd_evaluate(args) -> int:
    from amccl import checkpoint as ckpt
    from amccl.bert import check_encoder_data, encoder_record
    from amccl.compat import model_from_checkpoint
    from amccl.data import load_data
    from amccl.evaluation import evaluate_split, predictions_frame
    from amccl.metrics import DISPLAY_NOTE, format_table
    from amccl.results import NOTE_SEP, run_notes
    from amccl.runtime import resolve_device

    path = existing_file("--checkpoint", args.checkpoint)
    obj = ckpt.load(path)
    if ckpt.is_ours(obj):
        saved = AMCCLConfig.from_dict(obj["config"])
        if args.dataset is not None and args.dataset != saved.dataset:
            raise CLIError(f"--dataset {args.dataset}: {path} was trained on {saved.dataset}")
        args.dataset = saved.dataset
        cfg = config_from_args(args, base=saved)
    elif args.dataset is None:
        raise CLIError(f"{path} is a bare state dict: --dataset is required")
    else:
        cfg = config_from_args(args, base=AMCCLConfig.for_dataset(args.dataset, profile="paper"))
    device = resolve_device(cfg.device)
    model = model_from_checkpoint(obj, cfg, source=str(path)).to(device)  # no pretrained encoder needed
    data = load_data(cfg)
    check_encoder_data(cfg, model.text_model.model.config.vocab_size, data)
    encoder = encoder_record(cfg, model.text_model)
    notes = run_notes(cfg.to_dict(), encoder)
    split = data.split(args.split)
    result = evaluate_split(model, split, cfg, device)
    out = Path(args.out) if args.out else path.parent / f"eval-{args.split}"
    out.mkdir(parents=True, exist_ok=True)
    predictions_frame(split, result.predictions).to_csv(out / "predictions.csv", index=False)
    (out / "metrics.json").write_text(json.dumps({"split": args.split, "checkpoint": str(path),
                                                  "loss": result.loss, **result.metrics, "encoder": encoder,
                                                  "note": NOTE_SEP.join(notes)}, indent=2) + "\n")
    table = format_table(result.metrics, cfg.dataset, text=True).T
    table.columns = [f"{cfg.dataset} {args.split}"]
    print(f"{DISPLAY_NOTE}:")
    print(table.to_string())
    print("".join(f"note: {note}\n" for note in notes), end="")
    print(f"predictions: {out / 'predictions.csv'}")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m amccl`` and the ``amccl`` script; returns the exit status."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # encoders are local; never reach the hub
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)  # each sub-command's parser sets its func
    except CLIError as err:
        parser.exit(2, f"amccl {args.command}: error: {err}\n")
    except (OSError, ValueError, KeyError, TypeError, ImportError, RuntimeError, FloatingPointError) as err:
        if os.environ.get("AMCCL_DEBUG"):
            raise
        print(f"amccl {args.command}: error: {error_message(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        again = "rerun the same command to resume the study" if args.command == "tune" else "rerun with --resume to continue"
        print(f"amccl {args.command}: interrupted; {again}", file=sys.stderr)
        return 130
