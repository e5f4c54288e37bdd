"""The README gallery figures: what is drawn (bars, cells, lines, labels), not the pixels."""

import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from amccl.analysis.figure_stats import column_goodness  # noqa: E402
from amccl.metrics import format_table  # noqa: E402
from amccl.plotting import (  # noqa: E402
    plot_alignment_table,
    plot_grid,
    plot_test_vs_constant,
    save_figure,
)

MOSI_RUN = dict(Has0_acc_2=0.8350, Has0_F1_score=0.8355, Non0_acc_2=0.8412, Non0_F1_score=0.8420,
                Mult_acc_5=0.395, Mult_acc_7=0.275, MAE=0.9406, Corr=0.7818)
MOSI_CONST = dict(Has0_acc_2=0.56, Has0_F1_score=0.4021, Non0_acc_2=0.57, Non0_F1_score=0.41,
                  Mult_acc_5=0.155, Mult_acc_7=0.155, MAE=1.5738, Corr=np.nan)
SIMS_RUN = dict(Mult_acc_2=0.72, Mult_acc_2_weak=0.5435, Mult_acc_3=0.585, Mult_acc_5=0.41,
                F1_score=0.721, MAE=0.3455, Corr=0.6325, R_squre=0.3851)
SIMS_CONST = dict(Mult_acc_2=0.56, Mult_acc_2_weak=0.6196, Mult_acc_3=0.105, Mult_acc_5=0.105,
                  F1_score=0.4021, MAE=0.4493, Corr=np.nan, R_squre=-0.0003)


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def metrics_table(dataset: str, run: dict, const: dict) -> pd.DataFrame:
    """Notebook 02's table: ``format_table`` of the run and the constant, indexed by model."""
    rows = [{"model": "AMCCL (seed 1111)", **run}, {"model": "constant mean label", **const}]
    return format_table(rows, dataset).set_index("model")


def bar_count(ax) -> int:
    return sum(len(c) for c in ax.containers)


def texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


# --- plot_test_vs_constant -------------------------------------------------------------------
def test_test_vs_constant_mosi_bars_labels_and_the_undefined_corr():
    fig = plot_test_vs_constant(metrics_table("mosi", MOSI_RUN, MOSI_CONST))
    assert tuple(fig.get_size_inches()) == (10.0, 3.6)
    left, right = fig.axes
    assert bar_count(left) == 6 * 2  # six accuracies / F1, two models
    assert [t.get_text() for t in left.get_xticklabels()] == ["Has0_acc_2", "Has0_F1_score", "Non0_acc_2",
                                                             "Non0_F1_score", "Mult_acc_5", "Mult_acc_7"]
    assert left.get_ylim() == (0.0, 112.0) and left.get_ylabel() == "percent"
    assert {"83.5", "56.0", "27.5", "15.5"} <= set(texts(left))  # value labels, in %
    assert bar_count(right) == 3  # MAE twice, Corr only for the run
    assert [t.get_text() for t in right.get_xticklabels()] == ["MAE\n(lower is better)", "Corr"]
    assert {"0.941", "1.574", "0.782", "n/a"} <= set(texts(right))
    assert right.get_xlim() == (-0.5, 1.5)  # the "n/a" slot stays inside the axes
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert legend == ["AMCCL (seed 1111)", "constant mean label"]
    run_color = left.containers[0].patches[0].get_facecolor()
    assert right.containers[0].patches[0].get_facecolor() == run_color  # one colour per model
    assert left.containers[1].patches[0].get_facecolor() != run_color


def test_test_vs_constant_sims_takes_its_own_columns_and_ignores_others():
    table = metrics_table("sims", SIMS_RUN, SIMS_CONST).assign(seed=[1111, 0])  # a non-metric column
    fig = plot_test_vs_constant(table, title="SIMS test")
    left, right = fig.axes
    assert bar_count(left) == 5 * 2
    assert [t.get_text() for t in left.get_xticklabels()][:2] == ["Mult_acc_2", "Mult_acc_2_weak"]
    assert [t.get_text() for t in right.get_xticklabels()] == ["MAE\n(lower is better)", "Corr", "R²"]
    assert bar_count(right) == 2 + 1 + 2
    assert "-0.000" in texts(right) and "n/a" in texts(right)
    assert fig.get_suptitle() == "SIMS test"


def test_test_vs_constant_without_metric_columns_raises():
    with pytest.raises(ValueError, match="no MMSA metric columns"):
        plot_test_vs_constant(pd.DataFrame({"seed": [1, 2]}, index=["a", "b"]))


# --- plot_alignment_table --------------------------------------------------------------------
def side_table(names=("untrained", "trained", "no_cl", "02 fine-tuned")) -> pd.DataFrame:
    side = pd.DataFrame({"recall@1": [0.005, 0.042, 0.031, 0.050], "recall@5": [0.025, 0.15, 0.12, 0.17],
                         "alignment": [1.21, 0.62, 0.95, 0.58], "uniformity": [-1.2, -2.9, -2.1, -3.1],
                         "silhouette": [0.01, 0.08, 0.05, np.nan], "spearman": [0.0, 0.21, 0.12, 0.22]},
                        index=list(names))
    side.index.name = "model (means over pairs / modalities)"
    return side


def test_column_goodness_is_one_for_the_best_and_inverted_where_lower_is_better():
    good = column_goodness(side_table())
    assert good["recall@1"].tolist() == pytest.approx([0.0, 37 / 45, 26 / 45, 1.0])
    assert good["alignment"].idxmax() == "02 fine-tuned" and good["alignment"].idxmin() == "untrained"
    assert good["uniformity"].idxmax() == "02 fine-tuned"  # most negative = most uniform
    assert np.isnan(good.loc["02 fine-tuned", "silhouette"])
    flat = column_goodness(pd.DataFrame({"spearman": [0.2, 0.2]}))
    assert flat["spearman"].tolist() == [0.5, 0.5]


def test_alignment_table_annotates_every_cell_with_arrowed_headers_and_no_colorbar():
    fig = plot_alignment_table(side_table())
    ax = fig.axes[0]
    assert len(fig.axes) == 1  # no colour bar
    cells = texts(ax)
    assert len(cells) == 4 * 6 and cells.count("n/a") == 1
    assert {"0.005", "0.620", "-3.100", "0.220"} <= set(cells)
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "recall@1 ↑", "recall@5 ↑", "alignment ↓", "uniformity ↓", "silhouette ↑", "spearman ↑"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["untrained", "trained", "no_cl", "02 fine-tuned"]
    colors = np.asarray(ax.collections[0].get_array()).reshape(4, 6)
    assert colors[3, 2] == pytest.approx(1.0) and colors[0, 2] == pytest.approx(0.0)  # alignment: lowest best


def test_alignment_table_size_depends_only_on_the_shape():
    a = plot_alignment_table(side_table())
    b = plot_alignment_table(side_table(("a", "a much longer model name", "c", "d")) * 2)
    c = plot_alignment_table(side_table().iloc[:2, :3])
    assert tuple(a.get_size_inches()) == tuple(b.get_size_inches()) == (2.2 + 1.1 * 6, 1.5 + 0.4 * 4)
    assert tuple(c.get_size_inches()) == pytest.approx((2.2 + 1.1 * 3, 1.5 + 0.4 * 2))


# --- plot_grid: the detectable difference ----------------------------------------------------
def grid_rows() -> pd.DataFrame:
    """full: the baseline; shift: +2 points (+0.02) with small noise; null: symmetric noise."""
    rng = np.random.default_rng(0)
    seeds = range(1111, 1117)
    base = 0.80 + rng.normal(0, 0.01, 6)
    sym = np.array([0.003, -0.003, 0.005, -0.005, 0.001, -0.001])
    return pd.DataFrame([dict(variant=v, seed=s, Has0_acc_2=b + d)
                         for s, b, n, z in zip(seeds, base, rng.normal(0, 0.001, 6), sym)
                         for v, d in (("full", 0.0), ("shift", 0.02 + n), ("null", z))])


def dotted_positions(ax) -> list[float]:
    return sorted(float(line.get_xdata()[0]) for line in ax.lines if line.get_linestyle() == ":")


def test_plot_grid_draws_the_detectable_difference_around_the_baseline():
    from amccl.ablations.stats import paired_summary

    rows = grid_rows()
    summ = paired_summary(rows, ["Has0_acc_2"]).set_index("variant")
    base, det = 100 * summ.loc["full", "mean"], 100 * summ.loc[["shift", "null"], "detectable"].median()  # in %
    fig = plot_grid(rows, "Has0_acc_2")
    ax = fig.axes[0]
    assert dotted_positions(ax) == pytest.approx([base - det, base + det])
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert legend[-1] == "±detectable Δ (80 % power, 6 seeds)"
    assert [t.get_text() for t in ax.get_yticklabels()] == ["full", "shift", "null"]  # the rest as before


def test_plot_grid_detectable_off_or_missing_draws_no_dotted_lines():
    from amccl.ablations.stats import paired_summary

    rows = grid_rows()
    off = plot_grid(rows, "Has0_acc_2", detectable=False).axes[0]
    assert dotted_positions(off) == []
    assert not any("detectable" in t.get_text() for t in off.get_legend().get_texts())
    old = paired_summary(rows, ["Has0_acc_2"]).drop(columns=["detectable"])  # a summary from before the column
    assert dotted_positions(plot_grid(old, "Has0_acc_2").axes[0]) == []
    summ = paired_summary(rows, ["Has0_acc_2"], power=0.9)  # a summary table works too, its power quoted
    ax = plot_grid(summ, "Has0_acc_2").axes[0]
    assert len(dotted_positions(ax)) == 2
    assert ax.get_legend().get_texts()[-1].get_text() == "±detectable Δ (90 % power, 6 seeds)"


# --- save_figure ------------------------------------------------------------------------------
def png_size(path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG's IHDR chunk."""
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n" and header[12:16] == b"IHDR"
    return struct.unpack(">II", header[16:24])


def test_save_figure_fixed_size_is_figsize_times_dpi_and_byte_stable(tmp_path):
    fig = plot_test_vs_constant(metrics_table("mosi", MOSI_RUN, MOSI_CONST))
    first = save_figure(fig, tmp_path / "a" / "fixed.png", dpi=60, tight=False)
    assert png_size(first) == (600, 216)  # 10 × 3.6 in at 60 dpi
    again = save_figure(fig, tmp_path / "again.png", dpi=60, tight=False)
    assert again.read_bytes() == first.read_bytes()
    assert b"Software" not in first.read_bytes() and b"Matplotlib" not in first.read_bytes()
    with plt.rc_context({"savefig.bbox": "tight"}):  # a caller's rcParams do not crop it either
        assert png_size(save_figure(fig, tmp_path / "rc.png", dpi=40, tight=False)) == (400, 144)


def test_save_figure_default_is_still_tight(tmp_path):
    fig, ax = plt.subplots(figsize=(4, 3))
    ax.text(1.6, 0.5, "far outside the canvas", transform=ax.transAxes)
    path = save_figure(fig, tmp_path / "tight.png", dpi=100)
    assert png_size(path)[0] > 400  # the bounding box grew to the text
    assert b"Software" in path.read_bytes()  # matplotlib's default metadata, as before
