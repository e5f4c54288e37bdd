"""The demo profile's text length: the shortest Lt that holds every sentence of the embedded default."""

import argparse

import numpy as np
import pytest

from amccl.bert import load_tokenizer
from amccl.cli import config_from_args
from amccl.config import EMBEDDED_TEXT_LEN, AMCCLConfig
from amccl.data import load_data, synthetic
from amccl.data.checks import check_data_for_config
from amccl.data.types import DataError


def _longest_sentence_tokens() -> int:
    """Word pieces of the longest sentence the generator can write: each slot at its longest."""
    tokenizer = load_tokenizer("minilm")
    slots = [synthetic.OPENERS, synthetic.SUBJECTS, synthetic.VERBS, ("not",), tuple(synthetic.INTENSIFIERS),
             tuple(synthetic.ADJECTIVES) + tuple(synthetic.NEUTRAL_ADJECTIVES), synthetic.FILLERS]
    longest = sum(max(len(tokenizer.tokenize(word)) for word in slot) for slot in slots)
    return longest + 1 + 2  # the comma before a filler, [CLS] and [SEP]


def test_embedded_text_len_is_the_longest_sentence_the_generator_writes():
    assert _longest_sentence_tokens() == EMBEDDED_TEXT_LEN


def test_demo_embedded_data_holds_every_sentence_untruncated():
    cfg = AMCCLConfig.for_dataset("mosi", profile="demo", synthetic_sizes=(64, 16, 16))
    assert cfg.text_len == EMBEDDED_TEXT_LEN
    data = load_data(cfg)
    sep = load_tokenizer("minilm").sep_token_id
    for name, split in data.items():
        ids, mask = np.asarray(split.text)[:, 0], np.asarray(split.text)[:, 1]
        last = mask.sum(axis=1).astype(int) - 1
        assert (ids[np.arange(len(ids)), last] == sep).all(), f"{name}: a sentence lost its [SEP]"


@pytest.mark.parametrize("dataset,profile,overrides,expected", [
    ("mosi", "demo", {}, EMBEDDED_TEXT_LEN),
    ("mosei", "demo", {}, EMBEDDED_TEXT_LEN),
    ("mosi", "demo", {"data_path": "unaligned_50.pkl"}, 50),  # a real file keeps its Lt
    ("mosi", "paper", {}, 50),
    ("mosi", "smoke", {}, 50),
    ("sims", "demo", {}, 39),  # Chinese tokenizers split the sentences otherwise
])
def test_only_the_demo_embedded_english_default_is_shortened(dataset, profile, overrides, expected):
    assert AMCCLConfig.for_dataset(dataset, profile=profile, **overrides).text_len == expected


def test_cli_demo_profile_with_a_file_keeps_the_files_text_len(tmp_path):
    path = tmp_path / "unaligned_50.pkl"
    path.write_bytes(b"")
    args = argparse.Namespace(dataset="mosi", profile="demo", data=str(path), overrides=[], device=None)
    assert config_from_args(args).text_len == 50


def test_a_demo_config_pointed_at_a_real_file_later_says_how_to_fix_it():
    demo = AMCCLConfig.for_dataset("mosi", profile="demo", synthetic_sizes=(16, 8, 8))
    data = load_data(AMCCLConfig.for_dataset("mosi", profile="smoke", synthetic_sizes=(16, 8, 8)))
    with pytest.raises(DataError, match=r"expected text_len == 17, found 50; .*data_path=\.\.\.\) takes the file's Lt"):
        check_data_for_config(data, demo)
