"""Known files: the published MMSA hashes, identification of a loaded file,
a warning for a file named like a published one with another hash, one hash per file."""

from __future__ import annotations

import hashlib
import warnings

import pytest

from amccl.data import DataWarning, check_data_for_config, load_data, load_mmsa, register_release, release_of
from amccl.data import mmsa as mmsa_module
from amccl.data.pickles import write_mmsa_pickle
from tests.test_data_mmsa import SHAPES, make_raw, small_cfg

MOSI_UNALIGNED = "78e0f8b5ef8ff71558e7307848fc1fa929ecb078203f565ab22b9daab2e02524"


@pytest.fixture(autouse=True)
def own_registry(monkeypatch):
    """Each test registers into its own copy of the registry."""
    monkeypatch.setattr(mmsa_module, "RELEASES", dict(mmsa_module.RELEASES))


def write(path):
    path = write_mmsa_pickle(make_raw(with_text=False), path)
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


def no_data_warnings(call):
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = call()
    assert not [w for w in record if issubclass(w.category, DataWarning)], [str(w.message) for w in record]
    return result


@pytest.mark.parametrize("digest, label", [
    (MOSI_UNALIGNED, "MMSA MOSI unaligned_50"),
    ("d3994fd25681f9c7ad6e9c6596a6fe9b4beb85ff7d478ba978b124139002e5f9", "MMSA MOSI aligned_50"),
    ("ad8b23d50557045e7d47959ce6c5b955d8d983f2979c7d9b7b9226f6dd6fec1f", "MMSA MOSEI unaligned_50"),
    ("45eccfb748a87c80ecab9bfac29582e7b1466bf6605ff29d3b338a75120bf791", "MMSA MOSEI aligned_50"),
    ("c9e20c13ec0454d98bb9c1e520e490c75146bfa2dfeeea78d84de047dbdd442f", "MMSA SIMS unaligned_39"),
])
def test_published_hashes_are_known(digest, label):
    found = release_of("/x/whatever.pkl", digest.upper())
    assert found["release"] == f"{label}, published hash" and found["published"]
    assert found["file"] == f"{label.split()[-1]}.pkl" and found["dataset"] == label.split()[1].lower()


def test_unknown_and_unhashed_files():
    assert release_of("/x/f.pkl", "0" * 64) == {"release": "not a published MMSA file", "published": False,
                                                 "dataset": None, "file": "f.pkl", "sha256": "0" * 64}
    assert release_of("/x/f.pkl", None)["release"] == "not identified (SHA-256 not computed)"


def test_registered_file_is_identified(tmp_path):
    path, digest = write(tmp_path / "tiny.pkl")
    record = register_release(digest, "mosi", "tiny.pkl", "TEST MOSI tiny")
    assert record == {"dataset": "mosi", "file": "tiny.pkl", "label": "TEST MOSI tiny"}
    data = no_data_warnings(lambda: load_mmsa(path, "mosi", shapes=SHAPES, compute_hash=True))
    assert data.release == {"release": "TEST MOSI tiny, published hash", "published": True, "dataset": "mosi",
                            "file": "tiny.pkl", "sha256": digest}
    assert data.notes == []
    assert load_mmsa(path, "mosi", shapes=SHAPES).release["release"] == "not identified (SHA-256 not computed)"


def test_file_named_like_a_published_one_with_another_hash_warns(tmp_path):
    path, digest = write(tmp_path / "MOSI" / "Processed" / "unaligned_50.pkl")
    with pytest.warns(DataWarning) as record:
        data = load_mmsa(path, "mosi", shapes=SHAPES, compute_hash=True)
    (message,) = [str(w.message) for w in record if issubclass(w.category, DataWarning)]
    assert message == (f"{path}: named like the published MMSA file unaligned_50.pkl but its SHA-256 matches no "
                       f"published release — an incomplete or modified download: expected the published SHA-256 "
                       f"{MOSI_UNALIGNED}, found {digest}; re-download from the MMSA project")
    assert data.release["release"] == "not a published MMSA file"
    assert [(n["kind"], n["message"], n["refused_by"]) for n in data.notes] == [("release", message, [])]
    check_data_for_config(data, small_cfg(last_valid_step=True))  # a warning, never a refusal


def test_hash_is_computed_once_per_cached_file(tmp_path, monkeypatch):
    path, digest = write(tmp_path / "aligned_50.pkl")
    with pytest.warns(DataWarning, match="incomplete or modified download"):
        first = load_mmsa(path, "mosi", shapes=SHAPES, cache=True, compute_hash=True)
    assert first.sha256 == digest

    def refuse(*args, **kwargs):
        raise AssertionError("the file was read again")

    monkeypatch.setattr(mmsa_module, "restricted_load", refuse)
    monkeypatch.setattr(mmsa_module, "sha256_file", refuse)
    with pytest.warns(DataWarning, match="incomplete or modified download") as record:
        second = load_mmsa(path, "mosi", shapes=SHAPES, cache=True, compute_hash=True)
    assert second.source == "cache" and second.sha256 == digest and second.release == first.release
    assert len([w for w in record if issubclass(w.category, DataWarning)]) == 1
    assert [n["kind"] for n in second.notes] == ["release"]  # not doubled by the manifest
    register_release(digest, "mosi", "aligned_50.pkl", "TEST MOSI aligned")  # the registry is read per load
    third = no_data_warnings(lambda: load_mmsa(path, "mosi", shapes=SHAPES, cache=True, compute_hash=True))
    assert third.release["release"] == "TEST MOSI aligned, published hash" and third.notes == []


def test_load_data_always_hashes_a_real_file(tmp_path):
    path, digest = write(tmp_path / "mine.pkl")
    data = no_data_warnings(lambda: load_data(small_cfg(data_path=str(path)), cache=False))
    assert data.sha256 == digest and data.release["release"] == "not a published MMSA file"
