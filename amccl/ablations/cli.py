"""The ``ablate`` command: run a (variant × seed) grid, then print and save its statistics.

    python -m amccl ablate --dataset mosi --variants full no_se no_cl --seeds 1111 1112 1113
    python -m amccl ablate --list                       # the variant registry
    python -m amccl ablate ... --executor ray --num-gpus 0.25 [--ray-address auto]

Writes to ``--out``: ``grid.csv`` (rerun to resume), ``summary.csv``
(:func:`~amccl.ablations.stats.paired_summary`), one ``ablation_<metric>.png`` per ``--plot``
metric, and with ``--baselines`` ``baselines.csv`` and a verdict against them.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from amccl.ablations.variants import BASELINE, CLEAN_VARIANTS, MODALITY_VARIANTS, PAPER_VARIANTS, VARIANTS

# Group names accepted by --variants besides the registry's names.
GROUPS = {
    "paper": PAPER_VARIANTS,  # starts with the baseline, full
    "clean": (BASELINE, *CLEAN_VARIANTS),
    "modality": (BASELINE, *MODALITY_VARIANTS),
    "all": tuple(VARIANTS),
}


def add_ablate_parser(subparsers) -> argparse.ArgumentParser:
    """Add the ``ablate`` sub-command to an ``argparse`` sub-parsers object and return it."""
    from amccl.cli_options import config_options

    p = subparsers.add_parser(
        "ablate", help="run ablation variants over seeds and test which differences are real",
        description="Run a (variant x seed) ablation grid (resumable, one CSV row per run), then print "
                    "mean ± std per variant and the seed-paired differences to the baseline with "
                    "Holm-corrected tests. Run with --list for the variants.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    config_options(p, default="mosi", required=False)
    p.add_argument("--variants", nargs="+", default=["paper"],
                   help="variant names, '+' combinations (no_se+no_refine), or the groups "
                        "paper (docs/model.md §6), clean (§7), modality (text_only … no_vision), all")
    p.add_argument("--seeds", nargs="+", type=int, default=None, help="default: the config's seeds 1111-1115")
    p.add_argument("--out", "--out-dir", dest="out", metavar="DIR", default=None,
                   help="grid directory (default: runs/ablate/<dataset>-<profile>); rerun to resume")
    p.add_argument("--save-runs", action="store_true", help="keep each run's files under out-dir/runs/")
    p.add_argument("--executor", default="local", choices=("local", "processes", "ray"),
                   help="run pairs in this process (local), in worker processes on all cores of this machine "
                        "(processes, one thread per run unless --num-cpus) or as Ray tasks (ray, optional extra)")
    p.add_argument("--ray-address", default=None, help="a Ray cluster (auto, ray://host:10001); default: local Ray")
    p.add_argument("--num-cpus", type=float, default=None,
                   help="cores (and torch threads) per run; processes and Ray default 1")
    p.add_argument("--num-gpus", type=float, default=None,
                   help="GPU share per Ray task, e.g. 0.25; default 0.25 when the cluster has GPUs")
    p.add_argument("--baseline", default=BASELINE, help=f"variant the others are compared to (default {BASELINE})")
    p.add_argument("--metrics", nargs="+", default=None, help="metrics of the summary (default: all)")
    p.add_argument("--ci", default="t", choices=("t", "bootstrap"), help="interval method")
    p.add_argument("--test", default="t", choices=("t", "wilcoxon"), help="paired test")
    p.add_argument("--alpha", type=float, default=0.05, help="significance level after Holm correction")
    p.add_argument("--plot", nargs="*", default=None,
                   help="metrics to plot (default: the first metric and MAE; none: no figure)")
    p.add_argument("--baselines", action="store_true",
                   help="also score the constant predictor and ridge probes (text; text+audio+vision) on the "
                        "same test split: baselines.csv (fractions) and a verdict for the baseline variant")
    p.add_argument("--list", action="store_true", help="print the variant registry and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bar over the runs")
    p.set_defaults(func=run_ablate)
    return p


def expand_variants(names: list[str], baseline: str = BASELINE) -> list[str]:
    """Expand group names, canonicalise and check the others, drop duplicates and put the
    baseline first (adding it if absent: every difference is taken against it)."""
    from amccl.ablations.variants import canonical_name

    out: list[str] = []
    for name in names:
        out.extend(GROUPS[name] if name in GROUPS else (canonical_name(name),))
    out = list(dict.fromkeys(out))
    if baseline in out:
        out.remove(baseline)
    return [baseline, *out]


def run_ablate(args: argparse.Namespace) -> int:
    """Run the ``ablate`` command for parsed ``args``; returns the exit status."""
    import pandas as pd

    from amccl.ablations import stats
    from amccl.ablations.grid import run_grid
    from amccl.ablations.variants import variants_table
    from amccl.baselines import baseline_report, baseline_table
    from amccl.bert import check_run_encoder
    from amccl.cli_options import config_from_args
    from amccl.data import load_data
    from amccl.metrics import DISPLAY_NOTE
    from amccl.results import notes_of
    from amccl.runtime import atomic_write

    if args.list:
        with pd.option_context("display.max_colwidth", 90, "display.width", 200):
            print(variants_table().to_string(index=False))
        return 0
    cfg = config_from_args(args)
    variants = expand_variants(args.variants, args.baseline)
    seeds = args.seeds or list(cfg.seeds)
    out_dir = Path(args.out or f"runs/ablate/{cfg.dataset}-{cfg.profile}")
    resources = {k: v for k, v in (("num_cpus", args.num_cpus), ("num_gpus", args.num_gpus)) if v is not None}

    check_run_encoder(cfg)  # before any work: the encoder is there and fits --data's language
    rows = run_grid(variants, seeds, cfg, out_dir=out_dir, executor=args.executor,
                    ray_address=args.ray_address, resources=resources or None,
                    progress=not args.quiet, save_runs=args.save_runs)
    summ = stats.paired_summary(rows, args.metrics, baseline=args.baseline, alpha=args.alpha,
                         method=args.ci, test=args.test)
    summ.to_csv(out_dir / "summary.csv", index=False)
    level = int(round((1 - args.alpha) * 100))
    with pd.option_context("display.width", 250, "display.max_columns", 50):
        print(f"\nmean ± std over seeds {seeds} ({DISPLAY_NOTE}):")
        print(stats.format_paired(summ, "mean").to_string())
        print(f"\ndifference to {args.baseline} [{level} % CI, paired by seed; accuracies in points]; * = significant "
              f"after Holm correction ({args.test}-test, alpha {args.alpha:g}):")
        print(stats.format_paired(summ, "diff").to_string())
    for note in notes_of(rows):
        print(f"note: {note}")
    written = [out_dir / "grid.csv", out_dir / "summary.csv"]
    if args.baselines:  # fractions in baselines.csv, then the verdict for the baseline variant's seeds
        table = baseline_table(cfg, load_data(cfg))
        written.append(atomic_write(out_dir / "baselines.csv", lambda handle: table.to_csv(handle, index=False)))
        mine = rows[rows["variant"] == args.baseline]
        print("\n" + baseline_report(mine, table, cfg.dataset, label=f"AMCCL {args.baseline}"))

    metrics = list(dict.fromkeys(summ["metric"]))
    plot_metrics = args.plot if args.plot is not None else [m for m in (metrics[0], "MAE") if m in metrics]
    if plot_metrics:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        from amccl.plotting import plot_grid, save_figure

        for metric in dict.fromkeys(plot_metrics):
            fig = plot_grid(rows, metric, baseline=args.baseline, alpha=args.alpha, method=args.ci)
            save_figure(fig, out_dir / f"ablation_{metric}.png", dpi=130)
            plt.close(fig)
    print(f"\nwrote {', '.join(map(str, written))}" + (f" and {len(plot_metrics)} figure(s)" if plot_metrics else ""))
    return 0
