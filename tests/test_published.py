"""Published results beside a run's own: the shipped table reads back as fractions, every row has
a source, and the comparison appears only for a published MMSA file (by hash)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from amccl.data import mmsa as mmsa_module
from amccl.data import register_release, release_of
from amccl.data.pickles import write_mmsa_pickle
from amccl.metrics import KNOWN_METRICS, MOSI_KEYS, primary_metrics
from amccl.published import NOT_PUBLISHED, RUN_LABEL, comparison_text, published_results, side_by_side
from amccl.results import summarize
from tests.test_data_mmsa import make_raw

CSV = Path(__file__).resolve().parent.parent / "amccl" / "published" / "published_results.csv"
OFFICIAL = "amccl (official code)"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers into its own copy of the registry."""
    monkeypatch.setattr(mmsa_module, "RELEASES", dict(mmsa_module.RELEASES))


def test_table_reads_the_shipped_csv_as_fractions():
    raw = pd.read_csv(CSV, keep_default_na=False)  # the sources' ×100 values, "" where not reported
    table = published_results()
    assert len(table) == len(raw) == 49
    assert not table.duplicated(["dataset", "model"]).any()
    assert list(table[["dataset", "model", "seeds", "note", "source"]].itertuples(index=False)) == list(
        raw[["dataset", "model", "seeds", "note", "source"]].itertuples(index=False))
    assert table["aligned"].tolist() == (raw["aligned"].astype(str) == "True").tolist()
    for key in (k for k in KNOWN_METRICS if k in raw.columns):
        for cell, got in zip(raw[key], table[key]):
            assert np.isnan(got) if cell == "" else got == pytest.approx(float(cell) / 100, abs=1e-12), key


def test_a_few_rows_by_hand():
    mosi = published_results("mosi").set_index("model")
    # the CSV holds the sources' ×100 values; published_results gives fractions (MAE 70.80 -> 0.708)
    assert mosi.at["self_mm", "MAE"] == 0.708 and mosi.at["tetfn", "Corr"] == 0.7984 and mosi.at["mfn", "aligned"]
    assert mosi.at[OFFICIAL, "Has0_acc_2"] == 0.8469 and mosi.at[OFFICIAL, "seeds"] == 1
    sims = published_results("SIMS").set_index("model")
    assert sims.at["ef_lstm", "Corr"] == 0.0545 and sims.at["mtfn", "Mult_acc_3"] == 0.688
    assert published_results("simsv2").set_index("model").at["mlmf", "F1_score"] == 0.773


def test_every_row_has_a_source_and_a_seed_count():
    table = published_results()
    assert table.source.str.len().gt(20).all()
    assert (table.source.str.contains("thuiar/MMSA") == (table.model != OFFICIAL)).all()
    assert table.loc[table.model == OFFICIAL, "source"].str.contains("kaka-yjk/amccl").all()
    assert dict(table.groupby("model").seeds.max()) == {**{m: 5 for m in table.model if m != OFFICIAL}, OFFICIAL: 1}
    assert table.aligned.dtype == bool and table.aligned.sum() == 8  # ef_lstm, mfn, graph_mfn, tetfn on MOSI and MOSEI


def test_one_dataset_has_its_metric_names_in_display_order():
    for dataset in ("mosi", "mosei", "sims", "simsv2"):
        table = published_results(dataset)
        metrics = [m for m in primary_metrics(dataset) if m in table.columns]
        assert list(table.columns) == ["dataset", "model", *metrics, "aligned", "seeds", "note", "source"]
        assert set(table.dataset) == {dataset} and table[metrics].notna().all().all()
    with pytest.raises(ValueError, match="unknown dataset"):
        published_results("imdb")


def seed_results(sha256: str | None) -> pd.DataFrame:
    """Two seeds' rows as ``results_frame`` gives them (metrics as fractions), on the file ``sha256``."""
    rows = [{"seed": seed, **{k: (70.0 + i + step) / 100 for i, k in enumerate(MOSI_KEYS)}, "dataset": "mosi",
             "data_sha256": sha256} for seed, step in ((1111, 0.0), (1112, 2.0))]
    return pd.DataFrame(rows)


def registered_file(tmp_path: Path, dataset: str = "mosi") -> str:
    """A small MMSA file registered as a published release; returns its SHA-256."""
    path = write_mmsa_pickle(make_raw(with_text=False), tmp_path / "tiny.pkl")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    register_release(digest, dataset, "unaligned_tiny.pkl", "TEST MOSI tiny")
    return digest


def test_side_by_side_for_a_registered_file(tmp_path):
    digest = registered_file(tmp_path)
    table = side_by_side(seed_results(digest), "mosi")
    assert list(table.columns) == [*MOSI_KEYS, "data", "seeds"] and table.index.name == "model"
    assert list(table.index) == [RUN_LABEL, *published_results("mosi").model]
    mine = table.loc[RUN_LABEL]
    # one display for both: accuracies in % ((0.70, 0.72)), MAE and Corr as fractions ((0.77, 0.79))
    assert mine["Has0_acc_2"] == "71.00 ± 1.00" and mine["Corr"] == "0.7800 ± 0.0100"
    assert (mine["data"], mine["seeds"]) == ("unaligned", "2")
    assert table.loc["self_mm", "MAE"] == "0.7080" and table.loc["ef_lstm", "Corr"] == "0.6690"  # CSV: 70.80, 66.9
    assert table.loc["self_mm", "Has0_acc_2"] == "83.44"
    assert table.loc["ef_lstm", "data"] == "aligned" and table.loc["lf_dnn", "data"] == "unaligned"
    assert table.loc[OFFICIAL, "seeds"] == "1" and table.loc["misa", "seeds"] == "5"
    assert table.attrs["release"] == "TEST MOSI tiny, published hash" and len(table.attrs["sources"]) == 2
    by_record = side_by_side(summarize(seed_results(None), "mosi"), "mosi", release_of("/x/tiny.pkl", digest))
    pd.testing.assert_frame_equal(by_record.drop(columns="seeds"), table.drop(columns="seeds"))
    assert by_record.at[RUN_LABEL, "seeds"] == ""  # a summary alone does not say how many seeds


def test_sims_comparison_keeps_only_published_metrics(tmp_path):
    digest = registered_file(tmp_path, "sims")
    results = pd.DataFrame([{"seed": 1, **{k: 50.0 for k in primary_metrics("sims")}, "data_sha256": digest}])
    table = side_by_side(results, "sims")
    assert list(table.columns) == ["Mult_acc_2", "Mult_acc_3", "Mult_acc_5", "F1_score", "MAE", "Corr", "data", "seeds"]
    assert side_by_side(results, "mosi") is None  # the file is a SIMS release


def test_no_comparison_for_an_unpublished_or_unhashed_file(tmp_path):
    path = write_mmsa_pickle(make_raw(with_text=False), tmp_path / "unaligned_50.pkl")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert side_by_side(seed_results(digest), "mosi") is None
    assert side_by_side(seed_results(None), "mosi") is None
    assert side_by_side(summarize(seed_results(digest), "mosi"), "mosi") is None  # a summary has no hash
    assert side_by_side(seed_results(digest), "mosi", release_of(path, digest)) is None
    mixed = pd.concat([seed_results(digest), seed_results("0" * 64)])
    register_release(digest, "mosi", "unaligned_50.pkl")
    assert side_by_side(mixed, "mosi") is None  # seeds on different files
    assert comparison_text(seed_results("1" * 64), "mosi") == NOT_PUBLISHED


@pytest.mark.slow
@pytest.mark.parametrize("registered", [True, False])
def test_train_prints_the_comparison_only_for_a_published_file(tiny_data, tmp_path, capsys, registered):
    from amccl.cli import main

    if registered:
        register_release(hashlib.sha256(Path(tiny_data.path).read_bytes()).hexdigest(), "mosi", "unaligned_50.pkl")
    argv = ["train", "--dataset", "mosi", "--profile", "smoke", "--data", str(tiny_data.path), "--seeds", "1111",
            "--set", "text_encoder=tiny-random", "epochs=1", "--out", str(tmp_path / "run"), "--quiet"]
    assert main(argv) == 0
    out = capsys.readouterr().out
    if registered:
        assert "published mosi results beside this run (MOSI unaligned_50, published hash; accuracies" in out
        assert re.search(r"amccl \(official code\) +84\.69 +84\.65 .* 0\.6959 +0\.7912 +unaligned +1\n", out)
        assert re.search(r"ef_lstm +77\.38 .* aligned +5\n", out) and "source: https://github.com/thuiar/MMSA" in out
    else:
        assert NOT_PUBLISHED in out.splitlines() and "ef_lstm" not in out
