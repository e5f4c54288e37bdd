"""docs/model.md against the code: every symbol and file it names exists, every section the
code, tests, README and notebooks point to is there, and nothing points outside the repository."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODEL_DOC = ROOT / "docs" / "model.md"
POINTING = [ROOT / "README.md", *ROOT.glob("amccl/**/*.py"), *ROOT.glob("tests/*.py"), *ROOT.glob("benchmarks/*.py"),
            ROOT / "benchmarks" / "README.md", ROOT / "data" / "README.md", *ROOT.glob("notebooks/*.py"),
            *ROOT.glob("docs/*.md")]


def _resolve(dotted: str) -> object:
    """The object ``dotted`` names: the longest importable module prefix, then attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ModuleNotFoundError:
            continue
        for name in parts[cut:]:
            obj = getattr(obj, name)  # AttributeError: the document names a symbol that is not there
        return obj
    raise ModuleNotFoundError(dotted)


def _sections(text: str) -> set[str]:
    """Section numbers of the document's headings: "1", "2.4", "8.3", ..."""
    return set(re.findall(r"^#{2,3} (\d+(?:\.\d+)?)[. ]", text, flags=re.M))


def test_every_symbol_the_model_document_names_exists() -> None:
    names = sorted(set(re.findall(r"`(amccl(?:\.\w+)+)", MODEL_DOC.read_text())))
    assert len(names) > 30  # the document names the code it describes
    missing = []
    for name in names:
        try:
            _resolve(name)
        except (AttributeError, ModuleNotFoundError):
            missing.append(name)
    assert not missing, f"docs/model.md names symbols the package does not have: {missing}"


def test_every_file_the_model_document_names_exists() -> None:
    paths = set(re.findall(r"(amccl/[\w/]+\.py)", MODEL_DOC.read_text()))
    assert paths and not [p for p in sorted(paths) if not (ROOT / p).is_file()]


def test_every_section_pointed_to_exists() -> None:
    sections = _sections(MODEL_DOC.read_text())
    assert {"1", "2.1", "2.8", "3", "4", "5", "6", "7", "8", "8.6"} <= sections
    dangling = [f"{path.relative_to(ROOT)}: §{ref}" for path in POINTING
                for ref in re.findall(r"docs/model\.md[`)\]]*\s*§(\d+(?:\.\d+)?)", path.read_text())
                if ref not in sections]
    assert not dangling, f"references to sections docs/model.md does not have: {dangling}"


@pytest.mark.parametrize("needle", ["AMCCL_SPEC", "shared/", "../shared"])
def test_nothing_points_outside_the_repository(needle: str) -> None:
    users = [str(p.relative_to(ROOT)) for p in POINTING
             if p.is_file() and p != Path(__file__).resolve() and needle in p.read_text()]
    assert not users, f"{needle!r} names a file a clone does not have: {users}"
