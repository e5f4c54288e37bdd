"""The paper profile is the paper: its BERT found offline, refusals that name the fix, the
substitute-encoder note, language checks and scoring checkpoints without the pretrained encoder."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest
import torch
from torch import nn

from amccl import AMCCL, AMCCLConfig
from amccl.bert import (
    SUBSTITUTE_NOTE,
    EncoderError,
    bert_config_from_state,
    check_run_encoder,
    encoder_record,
    is_paper_encoder,
    load_tokenizer,
    weights_hash,
)
from amccl.config import SIMSV2_NOTE
from amccl.results import NOTE_SEP, History, notes_of, paper_row, results_frame, summarize, write_results

VOCAB = {"en": 30522, "zh": 21128}


@pytest.fixture(autouse=True)
def no_local_bert(monkeypatch, tmp_path):
    """No AMCCL_BERT_* variables and a working directory without ./bert-base-* folders."""
    monkeypatch.delenv("AMCCL_BERT_EN", raising=False)
    monkeypatch.delenv("AMCCL_BERT_ZH", raising=False)
    monkeypatch.chdir(tmp_path)


def tiny_bert_dir(path, language: str = "en", hidden: int = 48):
    """A local BERT directory laid out as bert-base-* are: config.json, weights, vocab."""
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(vocab_size=VOCAB[language], hidden_size=hidden, num_hidden_layers=1,
                         num_attention_heads=2, intermediate_size=64)).save_pretrained(path)
    load_tokenizer("minilm").save_pretrained(path)  # the uncased vocabulary (also for "zh": ids only matter)
    return path


# --- what the paper profile means ---------------------------------------------------------
@pytest.mark.parametrize("dataset, encoder", [("mosi", "bert-base-uncased"), ("mosei", "bert-base-uncased"),
                                              ("sims", "bert-base-chinese"), ("simsv2", "bert-base-chinese")])
def test_paper_profile_uses_the_papers_encoder_and_the_others_minilm(dataset, encoder):
    assert AMCCLConfig.for_dataset(dataset).text_encoder == encoder
    for profile in ("demo", "smoke"):
        assert AMCCLConfig.for_dataset(dataset, profile=profile).text_encoder == "minilm"
    assert AMCCLConfig.for_dataset(dataset, text_encoder="minilm").text_encoder == "minilm"


def test_simsv2_says_its_values_are_ours():
    cfg = AMCCLConfig.for_dataset("simsv2")
    assert cfg.hyperparameter_note == SIMSV2_NOTE
    assert "not in the paper" in SIMSV2_NOTE and "audio_heads=1" in SIMSV2_NOTE
    assert not any(AMCCLConfig.for_dataset(d).hyperparameter_note for d in ("mosi", "mosei", "sims"))


# --- a missing encoder stops the run before any work ---------------------------------------
@pytest.mark.parametrize("dataset, name, env", [("mosi", "bert-base-uncased", "AMCCL_BERT_EN"),
                                                ("sims", "bert-base-chinese", "AMCCL_BERT_ZH")])
def test_missing_paper_encoder_names_the_model_the_source_and_both_fixes(dataset, name, env):
    cfg = AMCCLConfig.for_dataset(dataset)
    with pytest.raises(EncoderError) as err:
        check_run_encoder(cfg)
    text = str(err.value)
    for words in (repr(name), f"https://huggingface.co/{name}", f"huggingface-cli download {name}",
                  "git lfs clone", f"--set text_encoder=/models/{name}", "text_encoder=", f"{env}=",
                  "--set text_encoder=minilm"):
        assert words in text, words
    with pytest.raises(EncoderError, match=env):
        AMCCL(cfg)


def test_an_env_var_without_config_json_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("AMCCL_BERT_EN", str(tmp_path / "empty"))
    with pytest.raises(EncoderError, match="AMCCL_BERT_EN=.*no config.json"):
        check_run_encoder(AMCCLConfig.for_dataset("mosi"))


def test_a_missing_directory_is_an_encoder_error_for_the_run(tmp_path):
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder=str(tmp_path / "missing"))
    with pytest.raises(EncoderError, match="no config.json"):
        check_run_encoder(cfg)


# --- finding the encoder ------------------------------------------------------------------
def test_the_env_var_points_the_paper_name_at_a_local_directory(monkeypatch, tmp_path):
    local = tiny_bert_dir(tmp_path / "bert-en")
    monkeypatch.setenv("AMCCL_BERT_EN", str(local))
    cfg = AMCCLConfig.for_dataset("mosi", synthetic_sizes=(8, 4, 4))
    check_run_encoder(cfg)
    model = AMCCL(cfg)
    assert model.text_model.hidden_size == 48 and model.post_text_layer_1.in_features == 48
    record = encoder_record(cfg, model.text_model)  # 48 hidden, 1 layer: not bert-base
    assert record["name"] == "bert-base-uncased" and record["substitute"] and record["note"] == SUBSTITUTE_NOTE


def test_a_directory_named_like_the_paper_encoder_is_found_in_the_working_directory(tmp_path):
    tiny_bert_dir(tmp_path / "bert-base-uncased")  # tmp_path is the working directory
    check_run_encoder(AMCCLConfig.for_dataset("mosi"))


def test_the_uncased_tokenizer_needs_no_bert_directory():
    """bert-base-uncased's vocabulary is MiniLM's: the synthetic default builds without the BERT."""
    assert load_tokenizer("bert-base-uncased").get_vocab() == load_tokenizer("minilm").get_vocab()
    with pytest.raises(EncoderError, match="bert-base-chinese"):
        load_tokenizer("bert-base-chinese")


# --- what runs record -------------------------------------------------------------------------
def test_is_paper_encoder_is_bert_base_of_the_datasets_language():
    from transformers import BertConfig

    english, chinese = BertConfig(), BertConfig(vocab_size=21128)  # BertConfig() is bert-base-uncased's
    assert is_paper_encoder(english, "mosi") and is_paper_encoder(english, "mosei")
    assert not is_paper_encoder(english, "sims") and is_paper_encoder(chinese, "simsv2")
    assert not is_paper_encoder(BertConfig(num_hidden_layers=6), "mosi")


def test_encoder_record_of_a_paper_shaped_encoder_has_no_note():
    from transformers import BertConfig

    class Stub(nn.Module):  # bert-base's config without its 110M weights
        def __init__(self):
            super().__init__()
            self.config, self.w = BertConfig(), nn.Parameter(torch.ones(3))

    record = encoder_record(AMCCLConfig.for_dataset("mosi"), Stub())
    assert (record["hidden_size"], record["layers"], record["heads"], record["vocab_size"]) == (768, 12, 12, 30522)
    assert not record["substitute"] and record["note"] == ""
    assert encoder_record(AMCCLConfig.for_dataset("sims"), Stub())["note"] == SUBSTITUTE_NOTE


def test_encoder_record_names_sizes_and_hashes_the_weights(tiny_cfg):
    torch.manual_seed(0)
    model = AMCCL(tiny_cfg)
    record = encoder_record(tiny_cfg, model.text_model)
    assert {k: record[k] for k in ("name", "hidden_size", "layers", "heads", "vocab_size")} == dict(
        name="tiny-random", hidden_size=32, layers=2, heads=2, vocab_size=30522)
    assert record["substitute"] is True and record["note"] == SUBSTITUTE_NOTE
    assert len(record["sha"]) == 12 and int(record["sha"], 16) >= 0
    assert record["sha"] == weights_hash(model.text_model.model)
    with torch.no_grad():
        model.text_model.model.embeddings.word_embeddings.weight[0, 0] += 1
    assert weights_hash(model.text_model.model) != record["sha"]
    json.dumps(record)  # JSON-ready for checkpoints and metrics.json


@pytest.mark.slow
def test_minilm_is_a_substitute():
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="minilm")
    record = encoder_record(cfg, AMCCL(cfg).text_model)
    assert (record["hidden_size"], record["layers"], record["substitute"]) == (384, 6, True)
    assert record["note"] == SUBSTITUTE_NOTE


def _history(cfg, seed, record, mae):
    metrics = {"Has0_acc_2": 0.8, "Has0_F1_score": 0.8, "Non0_acc_2": 0.8, "Non0_F1_score": 0.8,
               "Mult_acc_5": 0.5, "Mult_acc_7": 0.4, "MAE": mae, "Corr": 0.7}
    return History(epochs=[{"epoch": 1, "seconds": 1.0}], best_epoch=1, test_metrics=metrics,
                   config=cfg.to_dict(), seed=seed, meta={"data_path": "x", "encoder": record})


@pytest.mark.parametrize("dataset, notes", [("mosi", [SUBSTITUTE_NOTE]), ("simsv2", [SUBSTITUTE_NOTE, SIMSV2_NOTE])])
def test_results_rows_and_tables_carry_the_notes(tiny_cfg, tmp_path, dataset, notes):
    cfg = AMCCLConfig.for_dataset(dataset, profile="smoke", text_encoder="tiny-random")
    record = encoder_record(cfg, AMCCL(tiny_cfg).text_model)
    frame = results_frame([_history(cfg, 1111, record, 0.7), _history(cfg, 1112, record, 0.8)])
    assert list(frame.encoder) == ["tiny-random"] * 2 and list(frame.encoder_hidden_size) == [32, 32]
    assert list(frame.encoder_sha) == [record["sha"]] * 2 and frame.encoder_substitute.all()
    assert list(frame.note) == [NOTE_SEP.join(notes)] * 2
    summary = summarize(frame)
    assert notes_of(frame) == notes and summary.attrs["notes"] == notes
    assert not any(c.startswith("encoder") or c == "note" for c in summary.columns)
    assert summary.at["mean", "MAE"] == pytest.approx(0.75)  # fractions
    assert paper_row(summary)["note"] == NOTE_SEP.join(notes)
    write_results(frame, tmp_path, dataset)
    assert pd.read_csv(tmp_path / "results.csv").note.tolist() == [NOTE_SEP.join(notes)] * 2
    table = pd.read_csv(tmp_path / "summary.csv", index_col=0)
    assert list(table.index) == ["mean", "std"] and set(table.note) == {NOTE_SEP.join(notes)}


def test_paper_encoder_rows_have_no_note(tiny_cfg, tmp_path):
    record = dict(encoder_record(tiny_cfg, AMCCL(tiny_cfg).text_model), substitute=False, note="")
    frame = results_frame([_history(AMCCLConfig.for_dataset("mosi"), 1111, record, 0.7)])
    assert "note" not in frame.columns and "note" not in paper_row(summarize(frame))
    write_results(frame, tmp_path, "mosi")
    assert "note" not in pd.read_csv(tmp_path / "summary.csv").columns


# --- language: Chinese files need a Chinese encoder ---------------------------------------------
@pytest.fixture(scope="module")
def sims_synthetic():
    """SIMS-shaped embedded default (English tokens, as every shape of the default has)."""
    from amccl.data import load_data

    return load_data(AMCCLConfig.for_dataset("sims", profile="smoke", text_encoder="tiny-random"))


def test_synthetic_sims_shapes_with_an_english_encoder_are_allowed(sims_synthetic):
    cfg = AMCCLConfig.for_dataset("sims", profile="smoke", text_encoder="tiny-random")
    assert sims_synthetic.source == "synthetic"
    check_run_encoder(cfg, sims_synthetic)
    check_run_encoder(cfg)


def test_a_real_sims_file_with_an_english_encoder_is_refused(sims_synthetic, tmp_path):
    cfg = AMCCLConfig.for_dataset("sims", profile="smoke", text_encoder="minilm",
                                  data_path=str(tmp_path / "unaligned_39.pkl"))
    for data in (None, dataclasses.replace(sims_synthetic, source="mmsa")):  # before and after loading
        with pytest.raises(EncoderError) as err:
            check_run_encoder(cfg, data)
        text = str(err.value)
        assert "is Chinese" in text and "'minilm' is English" in text
        assert "--set text_encoder=/path/to/bert-base-chinese" in text and "AMCCL_BERT_ZH=" in text


def test_a_real_english_file_with_a_chinese_encoder_is_refused(monkeypatch, tmp_path):
    monkeypatch.setenv("AMCCL_BERT_ZH", str(tiny_bert_dir(tmp_path / "zh", "zh")))
    check_run_encoder(AMCCLConfig.for_dataset("sims"))  # found, Chinese, fits SIMS
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="bert-base-chinese", data_path="MOSI/unaligned_50.pkl")
    with pytest.raises(EncoderError, match="is English.*is Chinese.*bert-base-uncased"):
        check_run_encoder(cfg)


def test_token_ids_beyond_the_vocabulary_are_refused(tiny_data, monkeypatch, tmp_path):
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")
    text = tiny_data.valid.text.copy()
    text[2, 0, 5] = 30522
    data = dataclasses.replace(tiny_data, source="memory", valid=dataclasses.replace(tiny_data.valid, text=text))
    with pytest.raises(EncoderError) as err:
        check_run_encoder(cfg, data)
    assert "token id 30522 in the valid split" in str(err.value) and "vocabulary of 30522" in str(err.value)
    assert "Fix:" in str(err.value) and "text_encoder=" in str(err.value)
    # uncased ids (up to 30521) read by a Chinese vocabulary (21128 ids) are refused the same way
    monkeypatch.setenv("AMCCL_BERT_ZH", str(tiny_bert_dir(tmp_path / "zh", "zh")))
    text[2, 0, 5] = 25000
    with pytest.raises(EncoderError, match="token id 25000 .* vocabulary of 21128"):
        check_run_encoder(cfg.replace(text_encoder="bert-base-chinese"), data)


# --- scoring needs no pretrained encoder ---------------------------------------------------
def test_bert_config_from_state_reads_the_architecture(tiny_cfg):
    model = AMCCL(tiny_cfg)
    config = bert_config_from_state(model.state_dict())
    own = model.text_model.model.config
    for key in ("vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
                "max_position_embeddings", "type_vocab_size"):
        assert getattr(config, key) == getattr(own, key), key
    state = dict(model.state_dict())
    state["text_model.model.embeddings.word_embeddings.weight"] = torch.empty(21128, 768)
    assert bert_config_from_state(state, heads=None).num_attention_heads == 12  # hidden / 64 (bert-base)
    assert bert_config_from_state(state, heads=3).num_attention_heads == 3
    with pytest.raises(KeyError, match="no BERT weights"):
        bert_config_from_state({"AMC.conv1.weight": torch.zeros(1)})


def _our_checkpoint(path, cfg, model, with_record: bool):
    from amccl import checkpoint as ckpt

    meta = {"encoder": encoder_record(cfg, model.text_model)} if with_record else {}
    ckpt.atomic_save({"format": ckpt.FORMAT, "kind": "best", "config": cfg.to_dict(), "seed": 1111, "epoch": 1,
                      "model": ckpt.cpu_state_dict(model), "metrics": {}, "meta": meta}, path)


@pytest.mark.parametrize("encoder, with_record", [("missing-dir", True), ("missing-dir", False),
                                                  ("bert-base-uncased", False)])
def test_evaluate_needs_no_encoder_directory(tiny_cfg, tiny_data, tmp_path, capsys, encoder, with_record):
    """A tiny-random checkpoint whose config names an encoder that is not there scores as trained."""
    from amccl.cli import main
    from amccl.evaluation import evaluate_split

    torch.manual_seed(0)
    model = AMCCL(tiny_cfg).eval()
    expected = evaluate_split(model, tiny_data.test, tiny_cfg, "cpu")
    name = str(tmp_path / "no-such-bert") if encoder == "missing-dir" else encoder
    cfg = tiny_cfg.replace(text_encoder=name, data_path=tiny_data.path)  # the data as a file: no tokenizer
    _our_checkpoint(tmp_path / "best.pt", cfg, model, with_record)
    assert main(["evaluate", "--checkpoint", str(tmp_path / "best.pt"), "--out", str(tmp_path / "eval")]) == 0
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["MAE"] == pytest.approx(expected.metrics["MAE"], abs=1e-6)
    got = pd.read_csv(tmp_path / "eval" / "predictions.csv").prediction.to_numpy()
    np.testing.assert_allclose(got, expected.predictions, atol=1e-5)
    assert metrics["encoder"]["hidden_size"] == 32 and metrics["note"] == SUBSTITUTE_NOTE
    assert f"note: {SUBSTITUTE_NOTE}" in capsys.readouterr().out


def test_paper_run_without_the_encoder_stops_before_any_work(tmp_path, capsys):
    from amccl.cli import main

    out = tmp_path / "run"
    assert main(["train", "--dataset", "mosi", "--profile", "paper", "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "huggingface-cli download bert-base-uncased" in err and "AMCCL_BERT_EN" in err
    assert not out.exists()


def test_train_prints_the_notes_under_its_table(tiny_cfg, tmp_path, monkeypatch, capsys):
    import amccl.train
    from amccl.cli import main

    cfg = AMCCLConfig.for_dataset("simsv2", profile="smoke", text_encoder="tiny-random")
    record = encoder_record(cfg, AMCCL(tiny_cfg).text_model)
    frame = results_frame([_history(cfg, 1111, record, 0.7)])
    monkeypatch.setattr(amccl.train, "run_seeds", lambda *a, **k: frame)
    assert main(["train", "--dataset", "simsv2", "--profile", "smoke", "--set", "text_encoder=tiny-random",
                 "--seeds", "1111", "--out", str(tmp_path / "run"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "mean ± std" in out and f"note: {SUBSTITUTE_NOTE}\nnote: {SIMSV2_NOTE}\n" in out
