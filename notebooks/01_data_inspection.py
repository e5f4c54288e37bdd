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
# # 01 · Data inspection: what does the model actually see?
#
# **Question.** What is in the MOSI-shaped data AMCCL trains on: how big are the splits, how
# are the sentiment labels spread, how much of each audio/vision sequence is padding, and
# what did loading have to clean?
#
# **Result to expect.** Splits of the profile's sizes (MOSI: 1284 / 229 / 686 with the real
# file); labels on the 0.2 grid of [-3, 3], roughly balanced between positive and negative
# with a spike at exactly 0; about a quarter to a third of the audio and vision frames are
# padding, and **most clips are shorter than the padded length**, so the paper's readout of
# the last time step (index -1, docs/model.md §2.3) reads a padding frame for them. A few `-inf` audio
# values were set to 0 by the loader.
#
# No GPU is needed; this notebook takes a few seconds.

# %% [markdown]
# ## Setup: profile and data
#
# `default_profile()` is the one smoke switch (`AMCCL_PROFILE`, else `smoke` under CI, else
# `demo`). Leave `DATA_PATH = None` for the embedded synthetic default, or point it at a real
# MMSA pickle. A file of your own features whose shapes (Lt, La, Lv, Da, Dv) are not MMSA's sets
# them in the config (with head counts that divide its widths); the cell then prints the note
# every result of such a run carries (`shapes="paper"` refuses such a file instead).

# %%
import numpy as np
import pandas as pd
import matplotlib.pyplot as plt
import seaborn as sns
from IPython.display import Markdown, display

from amccl.analysis.figure_stats import padding_verdict, polarity_verdict
from amccl.bert import load_tokenizer
from amccl.config import AMCCLConfig, default_profile
from amccl.data import describe, feature_stats, label_counts, load_data
from amccl.data.overview import feature_verdict, truncation_verdict
from amccl.plotting import save_figure

PROFILE = default_profile()
DATA_PATH = None  # set to your MMSA pickle, e.g. "~/MMSA/MOSI/Processed/unaligned_50.pkl"
cfg = AMCCLConfig.for_dataset("mosi", profile=PROFILE, data_path=DATA_PATH)
if cfg.shapes_note:
    print(cfg.shapes_note)
sns.set_theme(context="notebook", style="whitegrid")
pd.set_option("display.width", 120)

# %% [markdown]
# ## Load the three splits

# %%
# NBVAL_CHECK_OUTPUT
data = load_data(cfg)
print(f"dataset {data.dataset}, source {data.source}, shapes (Lt, La, Lv, Da, Dv) = {data.shapes}")
for name, split in data.items():
    print(f"{name:5s}: {len(split):5d} clips  text {tuple(split.text.shape)}  "
          f"audio {tuple(split.audio.shape)}  vision {tuple(split.vision.shape)}")

# %% [markdown]
# The arrays have the MMSA layout the model expects: token ids/mask/segments `(N, 3, Lt)`,
# audio `(N, La, Da)` and vision `(N, Lv, Dv)`. Real MOSI files have Lt = 50; the `demo`
# profile writes the embedded default with Lt = 17, the longest sentence it can hold
# (`amccl.config.EMBEDDED_TEXT_LEN`), so the text encoder never runs over padding-only columns.

# %% [markdown]
# ## Split summary
#
# One row per split from `amccl.data.describe`: label statistics, the share of positive /
# negative / exactly-zero labels, mean token count, mean lengths, padding fractions and the
# number of values cleaned at load time.

# %%
# NBVAL_CHECK_OUTPUT
table = describe(data)
print(table.T.round(3).to_string())

# %% [markdown]
# Every split has positive, negative and zero labels, and roughly a quarter or more of the
# audio and vision frames are padding.

# %% [markdown]
# ## Label histograms and polarity / intensity balance

# %%
# NBVAL_CHECK_OUTPUT
counts = label_counts(data)
labels = pd.concat([pd.DataFrame({"split": name, "label": split.labels.astype(float)})
                    for name, split in data.items()], ignore_index=True)
labels["polarity"] = np.sign(labels["label"]).map({-1.0: "negative", 0.0: "neutral", 1.0: "positive"})
labels["intensity"] = pd.cut(labels["label"].abs(), [-0.01, 0.0, 1.0, 2.0, 3.0],
                             labels=["0", "(0, 1]", "(1, 2]", "(2, 3]"])
balance = pd.crosstab(labels["split"], [labels["polarity"]], normalize="index").round(3)
intensity = pd.crosstab(labels["split"], labels["intensity"], normalize="index").round(3)
print(f"{len(counts)} distinct label values, from {counts.index.min():.1f} to {counts.index.max():.1f}")
print("\npolarity share per split:\n" + balance.loc[list(dict(data.items()))].to_string())
print("\n|label| intensity share per split:\n" + intensity.loc[list(dict(data.items()))].to_string())

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4), constrained_layout=True)
sns.histplot(data=labels, x="label", hue="split", binwidth=0.2, binrange=(-3.1, 3.1),
             stat="density", common_norm=False, element="step", ax=axes[0])
axes[0].set(title="Sentiment labels per split", xlabel="regression label (-3 … +3)", ylabel="density")
polarity = (labels.groupby("split", sort=False)["polarity"].value_counts(normalize=True)
            .mul(100).rename("percent").reset_index())
sns.barplot(data=polarity, x="polarity", y="percent", hue="split",
            order=["negative", "neutral", "positive"], ax=axes[1])
axes[1].set(title="Polarity balance", xlabel="polarity", ylabel="% of the split's clips")
save_figure(fig, "01_labels")
plt.show()

# %%
display(Markdown("**Verdict.** " + polarity_verdict(data.train.labels)))

# %% [markdown]
# ## Sequence lengths and padding per modality
#
# Audio and vision are padded at the end up to La and Lv frames. The paper's encoders read the
# **last time step (index -1)** of each transformer output, with no padding mask (docs/model.md §2.3),
# so for every clip shorter than L that representation comes from a padding frame.

# %%
# NBVAL_CHECK_OUTPUT
rows = []
for name, split in data.items():
    for modality, lengths, full in (("audio", split.audio_lengths, split.audio.shape[1]),
                                    ("vision", split.vision_lengths, split.vision.shape[1])):
        rows.append({"split": name, "modality": modality, "L": full,
                     "mean length": round(float(lengths.mean()), 2),
                     "padding share of frames": round(float(1 - lengths.mean() / full), 3),
                     "clips whose step -1 is padding": round(float(np.mean(lengths < full)), 3)})
padding = pd.DataFrame(rows)
print(padding.to_string(index=False))

# %%
lengths = pd.concat([pd.DataFrame({"split": name, "modality": m, "length": getattr(split, f"{m}_lengths")})
                     for name, split in data.items() for m in ("audio", "vision")], ignore_index=True)
fig, axes = plt.subplots(1, 2, figsize=(13, 4), constrained_layout=True, sharey=True)
for ax, modality in zip(axes, ("audio", "vision")):
    full = data.shapes[1] if modality == "audio" else data.shapes[2]
    sns.histplot(data=lengths[lengths.modality == modality], x="length", hue="split", bins=25,
                 stat="density", common_norm=False, element="step", ax=ax)
    ax.axvline(full, color="0.3", ls="--", lw=1)
    ax.set(title=f"{modality} lengths (dashed: padded length L = {full})",
           xlabel="valid frames per clip", ylabel="density")
save_figure(fig, "01_lengths")
plt.show()

# %%
display(Markdown("**Verdict.** " + padding_verdict(padding["clips whose step -1 is padding"])))

# %% [markdown]
# ## Transcripts: token lengths and examples
#
# Token counts come from the attention-mask row of `text_bert` (`[CLS]` and `[SEP]` included).

# %%
# NBVAL_CHECK_OUTPUT
tokens = pd.concat([pd.DataFrame({"split": name, "tokens": split.text[:, 1].sum(axis=1)})
                    for name, split in data.items()], ignore_index=True)
print(tokens.groupby("split", sort=False)["tokens"].describe()[["mean", "min", "50%", "max"]].round(2).to_string())
print(f"\nLongest transcript: {int(tokens.tokens.max())} of Lt = {data.shapes[0]} tokens "
      f"(clips filling every slot: {int((tokens.tokens >= data.shapes[0]).sum())})")

# %%
fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
sns.histplot(data=tokens, x="tokens", hue="split", discrete=True, stat="density",
             common_norm=False, element="step", ax=ax)
ax.set(title="Transcript length (tokens incl. [CLS]/[SEP])", xlabel="tokens", ylabel="density")
save_figure(fig, "01_tokens")
plt.show()

# %%
display(Markdown("**Verdict.** " + truncation_verdict(data, load_tokenizer(cfg.text_encoder))))

# %%
# NBVAL_CHECK_OUTPUT
train = data.train
rng = np.random.default_rng(0)
pick = np.sort(rng.choice(len(train), size=min(6, len(train)), replace=False))
examples = pd.DataFrame({"id": train.ids[pick], "label": train.labels[pick].round(2),
                         "raw_text": train.raw_text[pick]})
print(examples.to_string(index=False))

# %% [markdown]
# Read the labels against the words: how much of each score do polarity words and
# intensifiers explain, and what is left for audio and vision?

# %% [markdown]
# ## Per-feature statistics of audio and vision (valid frames only)

# %%
# NBVAL_CHECK_OUTPUT
stats = {modality: feature_stats(train, modality) for modality in ("audio", "vision")}
print("audio features (train, valid frames):\n" + stats["audio"].round(2).to_string())
print("\nvision features (train, valid frames), summarised over the", len(stats["vision"]), "dims:\n"
      + stats["vision"].describe().loc[["mean", "min", "max"]].round(2).to_string())
cleaned = pd.DataFrame({name: split.cleaned for name, split in data.items()}).fillna(0).astype(int)
print("\nnon-finite values cleaned at load time (set to 0):\n"
      + (cleaned.to_string() if len(cleaned) else "none"))

# %%
fig, axes = plt.subplots(1, 2, figsize=(13, 4), constrained_layout=True, gridspec_kw={"width_ratios": [1, 3]})
for ax, modality in zip(axes, ("audio", "vision")):
    s = stats[modality]
    ax.errorbar(s.index, s["mean"], yerr=s["std"], fmt="o", capsize=3,
                color={"audio": "#d95f02", "vision": "#7570b3"}[modality])
    ax.xaxis.set_major_locator(plt.MaxNLocator(integer=True))
    ax.set(title=f"{modality}: mean ± std per feature (train, valid frames)",
           xlabel=f"{modality} feature index", ylabel="value")
save_figure(fig, "01_feature_stats")
plt.show()

# %%
total = int(cleaned.to_numpy().sum())
display(Markdown("**Verdict.** " + feature_verdict(stats, total)))
