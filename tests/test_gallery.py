"""The README's figure gallery: which figures `make demo` writes to docs/figures, how, and their budget."""

import re
import struct
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from amccl import workbook  # noqa: E402
from amccl.plotting import save_figure  # noqa: E402
from amccl.workbook import GALLERY, GALLERY_DPI, GALLERY_ENV, GALLERY_MAX_BYTES, gallery_folder  # noqa: E402

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", header[16:24])


def test_a_gallery_figure_is_written_at_its_figure_size_and_the_gallery_dpi(tmp_path, monkeypatch):
    monkeypatch.setenv("AMCCL_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.setenv(GALLERY_ENV, str(tmp_path / "gallery"))
    fig, ax = plt.subplots(figsize=(6.0, 2.5))
    ax.set_title("a long title whose length must not change the picture's size " * 2)
    save_figure(fig, GALLERY[0])
    save_figure(fig, "not_in_the_gallery")
    plt.close(fig)
    assert png_size(tmp_path / "gallery" / f"{GALLERY[0]}.png") == (6 * GALLERY_DPI, int(2.5 * GALLERY_DPI))
    assert not (tmp_path / "gallery" / "not_in_the_gallery.png").exists()
    assert (tmp_path / "run" / "figures" / "not_in_the_gallery.png").is_file()


def test_without_the_variable_nothing_is_written_to_a_gallery(tmp_path, monkeypatch):
    monkeypatch.setenv("AMCCL_RUN_DIR", str(tmp_path / "run"))
    monkeypatch.delenv(GALLERY_ENV, raising=False)
    fig = plt.figure(figsize=(2, 2))
    save_figure(fig, GALLERY[0])
    plt.close(fig)
    assert [p.name for p in (tmp_path / "run" / "figures").iterdir()] == [f"{GALLERY[0]}.png"]


@pytest.mark.parametrize("profile,explicit,store,expected", [
    ("demo", None, False, str(workbook.GALLERY_DIR)),
    ("smoke", None, False, None),  # make test's notebooks never touch docs/figures
    ("paper", None, False, None),
    ("demo", None, True, None),
    ("smoke", "/tmp/g", False, "/tmp/g"),
])
def test_only_a_demo_run_writes_the_readme_figures_by_default(profile, explicit, store, expected):
    assert gallery_folder(profile, explicit, store) == expected


def test_the_committed_gallery_is_complete_and_under_budget():
    folder = REPO / "docs" / "figures"
    files = sorted(folder.glob("*.png"))
    assert {f.stem for f in files} == set(GALLERY), "docs/figures should hold exactly the gallery (run make demo)"
    total = sum(f.stat().st_size for f in files)
    assert total < GALLERY_MAX_BYTES, f"docs/figures holds {total / 2**20:.2f} MB"
    for f in files:
        width, _ = png_size(f)
        assert width <= 24 * GALLERY_DPI, f"{f.name}: {width} px wide; the README shows it at page width"


def test_the_readme_embeds_every_gallery_figure_and_only_those():
    embedded = set(re.findall(r"!\[[^\]]+\]\(docs/figures/([\w-]+)\.png\)", README))
    assert embedded == set(GALLERY), f"README embeds {sorted(embedded ^ set(GALLERY))} wrongly"
