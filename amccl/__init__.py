"""AMCCL: Adaptive Multi-Scale Convolution fusion with fine-grained Contrastive Learning.

A multimodal sentiment analysis model: text + audio + vision of a clip -> a score in
[-3, 3] (MOSI/MOSEI) or [-1, 1] (SIMS). What it computes, section by section, and where each
piece lives: ``docs/model.md`` in the repository.

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
r, T   ``skip_net_reduction``; the contrastive ``temperature``
P, u   the (B, B) positive-pair weights; labels on the [-1, 1] scale (docs/model.md §3.1)
=====  ===========================================================================

The modules and what each holds: the "Layout" section of ``README.md``.
"""

from amccl.config import AMCCLConfig, default_profile

__all__ = ["AMCCLConfig", "AMCCL", "default_profile"]
__version__ = "0.1.0"


def __getattr__(name: str):  # lazy: importing the config must not import torch
    if name == "AMCCL":
        from amccl.model import AMCCL

        return AMCCL
    raise AttributeError(f"module 'amccl' has no attribute {name!r}")
