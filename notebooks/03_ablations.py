# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 03 · Ablations: which parts of AMCCL matter, and which differences are real?
#
# **Question.** The paper (docs/model.md §6) removes one part at a time — the SE block, kernel
# branches, adaptive kernel weights, the AMC fusion itself, the contrastive loss and each of
# its terms — and reports a single number per variant. Which of those differences survive
# seed noise?
#
# **What to expect.** This notebook trains every (variant, seed) pair of the registry with
# `amccl.ablations.grid.run_grid`, then compares each variant with `full` *on the same seeds*
# (paired differences, 95 % intervals, Holm-corrected paired t-tests). On the embedded
# synthetic default with a deliberately shrunk, frozen-text run, most differences are
# expected to be **not significant** at 3 seeds: the point of the table is to show how large
# a difference must be before it counts, not to reproduce the paper's numbers. A power
# analysis says what each null result rules out ("nothing larger than X at this many seeds")
# and how many seeds the observed differences would need. The section at the end shows how to
# run the paper-scale grid on real MOSI and a GPU or a Ray cluster.
#
# No GPU is needed. Runtime: ≈2 min in the `demo` profile (measured 121 s on 2 CPU cores: 23
# variants × 3 seeds in 93 s on two worker processes, then a 6-trial tuning study of ≈18 s; the
# frozen encoder's outputs are computed once per worker), well under a minute in `smoke`.

# %% [markdown]
# ## Profile and data
# The one switch: `default_profile()` reads `AMCCL_PROFILE` (`smoke` under CI, else `demo`).
# `DATA_PATH = None` uses the embedded synthetic default; put an MMSA pickle path here for
# real data.

# %%
from amccl.config import AMCCLConfig, default_profile
from amccl.presets import preset

PROFILE = default_profile()
DATA_PATH = None  # e.g. "/data/MMSA/MOSI/Processed/unaligned_50.pkl"

# %% [markdown]
# ## Imports

# %%
import time

import pandas as pd
import tqdm.auto  # noqa: F401  (imported here so its one-time notice never lands in a checked cell)
from IPython.display import Markdown, display

from amccl.ablations.grid import run_grid
from amccl.ablations.stats import format_paired, grid_verdict, paired_summary, power_verdict, seed_budget_verdict
from amccl.ablations.variants import VARIANTS, variants_table
from amccl.analysis.figure_stats import grid_metric_verdict, importance_verdict, param_importances
from amccl.data import load_data
from amccl.plotting import plot_grid, save_figure
from amccl.workbook import run_dir_for

pd.set_option("display.width", 200, "display.max_columns", 30, "display.max_colwidth", 80)

# %% [markdown]
# ## The variants
# Each variant is a config override (`amccl/ablations/variants.py` is the only place one is
# defined); §6 are the paper's ablations (with six modality ablations, `text_only` …
# `no_vision`, which drop whole modalities), §7 cleaner versions of the reference code's quirks.

# %%
# NBVAL_CHECK_OUTPUT
table = variants_table()
print(f"{len(table)} variants ({(table['section'] == '§6').sum()} from §6, {(table['section'] == '§7').sum()} from §7)")
table.set_index("variant")

# %% [markdown]
# ## The grid for this profile
# A grid trains every variant with every seed, so one run must be cheap: the text encoder is
# frozen (`freeze_text=True`; its outputs are cached, `cache_text=True`), audio and vision are
# cut to 24 steps and the text to the 17 tokens that hold every sentence of the embedded
# default, the transformer feed-forward is 256 wide and the synthetic splits are small. These
# overrides apply to every variant alike, so the comparison stays paired and fair; they are
# *not* the paper's settings (see the last section for those).

# %%
# NBVAL_CHECK_OUTPUT
grid = preset("ablation_grid", PROFILE)  # amccl.presets; paper: the paper's settings (use a GPU)
GRID_VARIANTS, SEEDS = list(grid.variants or VARIANTS), list(grid.seeds)
GRID_OVERRIDES = grid.overrides_for(DATA_PATH)  # a real file keeps its own sizes and shapes

cfg = AMCCLConfig.for_dataset("mosi", profile=PROFILE, data_path=DATA_PATH, **GRID_OVERRIDES)
print(f"profile {PROFILE}: {len(GRID_VARIANTS)} variants × {len(SEEDS)} seeds = {len(GRID_VARIANTS) * len(SEEDS)} runs")
print("seeds:", SEEDS)
pd.Series({k: getattr(cfg, k) for k in ("dataset", "text_encoder", "freeze_text", "cache_text", "epochs",
                                        "batch_size", "synthetic_sizes", "text_len", "audio_len",
                                        "vision_len", "encoder_ff_dim", "gamma")}, name="value").to_frame()

# %% [markdown]
# ## Load the data once
# Variants never change the data, so one `MMSAData` serves every run.

# %%
# NBVAL_CHECK_OUTPUT
data = load_data(cfg)
print({name: len(data.split(name).labels) for name in ("train", "valid", "test")})

# %% [markdown]
# ## Run the grid
# Rows go to `grid.csv` as each run finishes; re-running the cell resumes (finished pairs are
# read back, not retrained). In the demo profile the runs share the machine's cores
# (`executor="processes"`: one worker process per core, one torch thread per run; a row equals
# the same run's row from `executor="local"` with `num_cpus=1`, bit for bit). Changing `GRID_OVERRIDES` needs a fresh folder — the grid refuses
# to mix rows of different settings.

# %%
# NBVAL_IGNORE_OUTPUT
GRID_DIR = run_dir_for("03_ablations", cfg)  # new settings -> new folder
start = time.perf_counter()
# demo: one run per core, one torch thread each; smoke and paper: one after another in this process
rows = run_grid(GRID_VARIANTS, SEEDS, cfg, data=data, out_dir=GRID_DIR, executor=grid.executor,
                resources=grid.resources, progress=grid.progress)
print(f"{len(rows)} runs in {time.perf_counter() - start:.0f} s; rows in {GRID_DIR / 'grid.csv'}")

# %%
# NBVAL_CHECK_OUTPUT
print(f"{rows['variant'].nunique()} variants, {rows['seed'].nunique()} seeds, {len(rows)} rows")

# %% [markdown]
# ## Summary table
# Mean ± std over seeds (accuracies and F1 in %, MAE and Corr as fractions, as papers print
# them), then the seed-paired difference to `full` (accuracies in points) with its 95 %
# interval; `*` marks a difference that stays significant after Holm's correction across the
# variants of that metric.

# %%
METRICS = ["Has0_acc_2", "Non0_F1_score", "Mult_acc_7", "MAE", "Corr"]
summ = paired_summary(rows, METRICS, baseline="full", alpha=0.05)
means = format_paired(summ, "mean")
means

# %% [markdown]
# ### Differences to `full` (Δ [95 % CI], `*` = Holm-significant)

# %%
format_paired(summ, "diff")

# %% [markdown]
# ### Holm-corrected p-values and verdicts

# %%
p_table = summ[summ["variant"] != "full"].pivot(index="variant", columns="metric", values="p_holm")
p_table = p_table.loc[[v for v in dict.fromkeys(summ["variant"]) if v != "full"], METRICS].round(3)
p_table

# %%
print(grid_verdict(summ, len(SEEDS)))

# %% [markdown]
# ## How many seeds? What a null result rules out
# A paired t-test on n seeds finds a true mean difference Δ with probability 80 % (its
# *power*, at α = 5 %, two-sided) only when Δ exceeds **detectable** = (a noncentral-t factor)
# × s / √n, where s is the spread of the per-seed differences (`amccl.ablations.power`). So a
# "n.s." reads: *nothing larger than ±detectable at this many seeds*; a smaller real effect is
# not excluded. **seeds for Δ** is how many seeds the observed difference would need to be found
# with 80 % power at its observed spread (`> 1000`: none that anyone would run). Holm's
# correction across variants asks more of each test, so these are lower bounds.

# %%
POWER_METRICS = ["MAE", "Has0_acc_2"]
beside = {m: pd.DataFrame({"Δ [95 % CI]": format_paired(summ, "diff")[m],
                           "detectable (80 %)": format_paired(summ, "detectable")[m],
                           "seeds for Δ": format_paired(summ, "seeds_needed")[m]}) for m in POWER_METRICS}
pd.concat(beside, axis=1)

# %%
for metric in METRICS:
    print(power_verdict(summ, metric))  # accuracies in points, MAE and Corr as fractions

# %%
print(seed_budget_verdict(summ, "Has0_acc_2", len(SEEDS)))  # accuracies in points

# %% [markdown]
# ## Figure: MAE and binary accuracy per variant
# Diamonds: mean over seeds with its interval; dots: the seeds; grey band: `full`. Colour is
# the Holm-corrected verdict against `full`; the Δ column on the right is the paired difference.

# %%
fig = plot_grid(rows, "MAE", title=f"MAE ({PROFILE} profile, {len(SEEDS)} seeds; lower is better)")
_ = save_figure(fig, "03_ablations_mae")

# %%
display(Markdown("**Verdict.** " + grid_metric_verdict(summ, "MAE")))

# %%
fig = plot_grid(rows, "Has0_acc_2", title=f"Has0_acc_2, % ({PROFILE} profile, {len(SEEDS)} seeds)")
_ = save_figure(fig, "03_ablations_acc2")

# %%
display(Markdown("**Verdict.** " + grid_metric_verdict(summ, "Has0_acc_2")))

# %% [markdown]
# ## Tuning on the validation split only
#
# Which hyper-parameters are right for *this* data, chosen without looking at test? A small
# seeded optuna study (TPE sampler, median pruning on the per-epoch validation MAE) over the
# contrastive terms (`gamma`, `k`, `temperature`, `alpha`, `lambda_refine`) on the grid's
# shrunk settings: each trial trains one seed and is scored by its best validation MAE; its
# test split is never read (`fit(splits=("train", "valid"))`). The study lives in SQLite beside the
# grid and resumes when the cell is re-run. `python -m amccl tune` searches the full `paper`
# space and then scores the best configuration on test over the seeds, once. The importances
# (fANOVA) say which of the five terms moved the validation MAE in these trials; with a
# handful of trials they are a first look at the study, not a finding (the `paper` profile
# runs 30 trials, `python -m amccl tune` 50 by default).

# %%
# NBVAL_IGNORE_OUTPUT
import logging

import optuna

from amccl.plotting import plot_param_importances
from amccl.runtime import get_logger
from amccl.tuning import run_study, trials_frame

optuna.logging.set_verbosity(optuna.logging.WARNING)
get_logger(logging.WARNING)  # no per-trial log lines here (the table below has them)
study = run_study(cfg, "contrastive", trials=grid.trials, storage=GRID_DIR / "study.db", data=data,
                  progress=grid.progress)
trials_frame(study)[["number", "state", "value", "gamma", "k", "temperature", "alpha", "lambda_refine", "duration_s"]]

# %%
# NBVAL_IGNORE_OUTPUT
fig = plot_param_importances(study)
_ = save_figure(fig, "03_tuning_importances")
display(Markdown("**Verdict.** " + importance_verdict(param_importances(study))))
print(f"best trial {study.best_trial.number}: validation MAE {study.best_value:.4f} with",
      {k: round(v, 4) for k, v in study.best_params.items()})

# %% [markdown]
# ## The paper-scale grid: real data, a GPU or a Ray cluster
#
# The numbers above come from a shrunk, frozen-text run on synthetic data. The paper's grid
# (docs/model.md §4 settings: fine-tuned text encoder, 150 epochs with early stopping) is a job for the
# command line; it writes the same `grid.csv`, resumes when re-run and prints the same tables:
#
# ```bash
# # one GPU: all §6 variants, five seeds, MOSI
# python -m amccl ablate --dataset mosi --data /data/MMSA/MOSI/Processed/unaligned_50.pkl \
#     --profile paper --variants paper --seeds 1111 1112 1113 1114 1115 \
#     --out runs/ablate/mosi-paper --plot MAE Has0_acc_2
#
# # a Ray cluster: one task per (variant, seed); four MOSI runs share a GPU
# python -m amccl ablate --dataset mosi --data /data/MMSA/MOSI/Processed/unaligned_50.pkl \
#     --profile paper --variants all --seeds 1111 1112 1113 1114 1115 \
#     --executor ray --ray-address ray://head:10001 --num-gpus 0.25 --num-cpus 2
# ```
#
# `--variants` takes names (`no_se no_cl`), `+` combinations (`no_se+no_refine`) or the
# groups `paper` (§6), `clean` (§7), `modality` and `all`; `--set key=value` overrides any config field
# for every variant; `--list` prints the registry. `python -m amccl ablate --help` has the rest.
# From Python the same grid is `run_grid(variants, seeds, cfg, out_dir=..., executor="ray",
# ray_address="ray://head:10001", resources={"num_gpus": 0.25})`.
