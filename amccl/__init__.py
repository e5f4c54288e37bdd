"""AMCCL: Adaptive Multi-Scale Convolution fusion with fine-grained Contrastive Learning.

A multimodal sentiment analysis model: text + audio + vision of a clip -> a score in
[-3, 3] (MOSI/MOSEI) or [-1, 1] (SIMS). The exact behaviour is ``shared/AMCCL_SPEC.md``.

Symbol legend used in every docstring:

=====  ===========================================================================
B      batch size
L      a sequence length; Lt text tokens, La audio frames, Lv vision frames
H      hidden size of the text encoder (384 for MiniLM, 768 for BERT-base)
Da     raw audio feature size (5 MOSI, 74 MOSEI, 33 SIMS); Dv vision (20, 35, 709)
C      a skip gate's input channels (H, Da or Dv)
d      ``post_dim``: size of each unimodal vector h_t, h_a, h_v
f      ``post_fusion_dim``; Feature_f has 3f entries
K      number of AMC kernel branches (3: sizes 1, 3, 5)
N      number of clips in a split
=====  ===========================================================================

Where each idea lives (one place each):

=================  ======================================================================
config.py          ``AMCCLConfig`` (the paper's per-dataset values, profiles)
presets.py         what each notebook runs at each profile
bert.py            finding the text encoder offline, building it from a checkpoint, recording it
encoders.py        ``TextEncoder`` and the audio / vision ``SequenceEncoder``
fusion.py          skip gates, SE block, Adaptive Multi-Scale Convolution
model.py           ``AMCCL``: encoders, unimodal vectors, AMC fusion, head
losses.py          the loss (L1 + gamma · fine-grained supervised contrastive), ``LOSS_PARTS``
metrics.py         MMSA's metrics, their names, and the one display for people (``format_table``)
optim.py           AdamW over five parameter groups, the cosine schedule
train.py           ``fit`` (one seed, top to bottom) and ``run_seeds``
checkpoint.py      what ``best.pt`` / ``last.pt`` hold and how a resume reads them
evaluation.py      the one loop over a split: scoring, embeddings, the frozen-text cache
results.py         ``History``, seed tables, results CSVs (fractions), the official ×100 layout on request
compat.py          the paper code's checkpoints
runtime.py         devices, seeds and RNG states, logging, progress bars, atomic writes
data/              MMSA pickles (read safely, checked, cached), the embedded default, batches
ablations/         variants (incl. modality), grids (local, all cores, or Ray), paired statistics and power, ``ablate``
analysis/          embeddings, alignment measures, comparisons, error analysis, the gamma sweep
tuning/            validation-only optuna search: spaces, the study, local / Ray runners, ``tune``
published/         published results with their sources, and the side-by-side with a run
predict.py         predictions for label-less clips, the ``predict`` command
baselines.py       the constant and two ridge probes (text; early fusion) on the test split, the verdict
plotting/          every figure, and the one ``save_figure``
cli.py             ``python -m amccl train | evaluate | predict | ablate | tune``
cli_options.py     the options every command shares (``--dataset`` .. ``--set``) and the config they build
workbook.py        running and storing the notebooks
=================  ======================================================================
"""

from amccl.config import AMCCLConfig, default_profile

__all__ = ["AMCCLConfig", "AMCCL", "default_profile"]
__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing the config must not import torch
    if name == "AMCCL":
        from amccl.model import AMCCL

        return AMCCL
    raise AttributeError(f"module 'amccl' has no attribute {name!r}")
