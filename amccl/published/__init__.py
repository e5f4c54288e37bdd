"""Published regression results, shown beside a run's own numbers.

``published_results.csv`` holds, per (dataset, model), MMSA's five-seed reproductions on MOSI, MOSEI, SIMS and SIMS-v2
(``thuiar/MMSA`` ``results/result-stat.md`` at a94e65d) and the official AMCCL code's one-seed MOSI run
(``kaka-yjk/amccl`` at 5316a2f), exactly as published (×100). :func:`published_results` returns them as fractions.
:func:`side_by_side` shows them under a run's ``mean ± std`` only when the run's data file is a published MMSA release
by SHA-256 (:data:`amccl.data.mmsa.RELEASES`): numbers on any other file are not comparable.
"""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pandas as pd

from amccl.data.mmsa import release_of
from amccl.metrics import DISPLAY_NOTE, KNOWN_METRICS, format_value, metric_columns
from amccl.results import paper_row, summarize

__all__ = ["NOT_PUBLISHED", "published_results", "side_by_side", "comparison_text"]

CSV_NAME = "published_results.csv"
CSV_SCALE = 100.0  # the CSV's values are ×100, as the sources print them
NOT_PUBLISHED = "not a published MMSA file: no published comparison"
RUN_LABEL = "AMCCL (this run)"


def published_results(dataset: str | None = None) -> pd.DataFrame:
    """The published table (fractions), all datasets or one: ``dataset``, ``model``, the metrics (one dataset's, in
    display order), ``aligned``, ``seeds``, ``note``, ``source``; ValueError for an unknown dataset."""
    with files(__name__).joinpath(CSV_NAME).open("r", encoding="utf-8") as handle:
        table = pd.read_csv(handle, dtype={"aligned": bool, "seeds": int}, keep_default_na=False,
                            na_values={m: [""] for m in KNOWN_METRICS})
    metrics = [m for m in KNOWN_METRICS if m in table.columns]
    table[metrics] = (table[metrics].astype(float) / CSV_SCALE).round(8)  # 84.69 -> 0.8469, no float dust
    if dataset is None:
        return table
    metrics = metric_columns(table, dataset)  # raises ValueError on an unknown name
    chosen = table[table["dataset"] == dataset.lower().replace("-", "").replace("_", "")]
    return chosen[["dataset", "model", *metrics, "aligned", "seeds", "note", "source"]].reset_index(drop=True)


def side_by_side(
    summary_or_results: pd.DataFrame, dataset: str, release: dict[str, Any] | str | None = None,
) -> pd.DataFrame | None:
    """A run's ``mean ± std`` row above the published rows of ``dataset``, as strings indexed by
    ``model`` (:data:`RUN_LABEL` first; ``data`` aligned / unaligned, ``seeds``), or None unless
    the run's file is a published MMSA release of ``dataset``.

    ``summary_or_results`` is a :func:`~amccl.results.summarize` table or a results frame; ``release`` (a ``release_of``
    dict or a SHA-256) defaults to the frame's ``data_sha256``. ``attrs`` hold ``sources`` and ``release``.
    """
    frame = summary_or_results
    is_summary = list(frame.index) == ["mean", "std"]
    if release is None and not is_summary and "data_sha256" in frame.columns:  # the rows' one SHA-256
        hashes = frame["data_sha256"].dropna().astype(str).unique()
        release = str(hashes[0]) if len(hashes) == 1 and frame["data_sha256"].notna().all() else None
    sha = release.get("sha256") if isinstance(release, dict) else release  # a dict is looked up again
    record = release_of(None, sha) if sha else None
    published = published_results(dataset)
    if not record or not record["published"] or str(record["dataset"]).lower() != published["dataset"].iloc[0]:
        return None
    summary = frame if is_summary else summarize(frame, dataset)
    metrics = [m for m in metric_columns(summary, dataset) if m in published.columns and published[m].notna().any()]
    seeds = summary.attrs.get("seeds", "") if is_summary else len(frame)
    mine = {**paper_row(summary)[metrics].to_dict(),
            "data": "aligned" if record["file"].startswith("aligned") else "unaligned", "seeds": str(seeds)}
    rows = [{m: format_value(row[m], m) if pd.notna(row[m]) else "" for m in metrics}
            | {"data": "aligned" if row["aligned"] else "unaligned", "seeds": str(row["seeds"])}
            for _, row in published.iterrows()]
    table = pd.DataFrame([mine, *rows], index=pd.Index([RUN_LABEL, *published["model"]], name="model"))
    table.attrs.update(sources=list(dict.fromkeys(published["source"])), release=record["release"])
    return table


def comparison_text(summary_or_results: pd.DataFrame, dataset: str, release: dict[str, Any] | str | None = None) -> str:
    """What ``amccl train`` prints: the :func:`side_by_side` table with its sources, or :data:`NOT_PUBLISHED`."""
    table = side_by_side(summary_or_results, dataset, release)
    if table is None:
        return NOT_PUBLISHED
    lines = [f"published {dataset} results beside this run ({table.attrs['release']}; {DISPLAY_NOTE}):",
             table.to_string()]
    return "\n".join(lines + [f"source: {source}" for source in table.attrs["sources"]])
