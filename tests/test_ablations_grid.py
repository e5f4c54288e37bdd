"""run_grid: one CSV row per run as it finishes, resumption, config checks (fake, instant fit)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import torch

from amccl.ablations.grid import GRID_CSV, VOLATILE_COLUMNS, read_grid, run_grid
from amccl.config import AMCCLConfig
from amccl.results import History

DATA = object()  # a stand-in dataset: the fake fit checks it is passed through untouched


class FakeFit:
    """A deterministic stand-in for ``amccl.train.fit``: metrics are a function of the config
    and the seed; records every call and can fail on a chosen call."""

    def __init__(self, fail_on_call: int | None = None, csv=None):
        self.calls: list[tuple[dict, int]] = []
        self.fail_on_call, self.csv = fail_on_call, csv
        self.rows_seen: list[int] = []
        self.threads_seen: list[int] = []
        self.kwargs_seen: list[dict] = []

    def __call__(self, cfg, data, seed, out_dir=None, progress=True, **kwargs):
        assert data is DATA and progress is False
        self.calls.append((cfg.to_dict(), seed))
        self.kwargs_seen.append(dict(out_dir=out_dir, **kwargs))
        self.threads_seen.append(torch.get_num_threads())
        if self.csv is not None:  # how many rows were on disk when this run started
            self.rows_seen.append(len(read_grid(self.csv)))
        if self.fail_on_call is not None and len(self.calls) == self.fail_on_call:
            raise RuntimeError("simulated crash")
        acc = 0.7 + 0.001 * (seed % 100) - 0.03 * (not cfg.se) - 0.02 * (cfg.lambda_refine == 0) + 1 / 3
        return History(best_epoch=seed % 7 + 1, epochs=[{"epoch": 1}], seed=seed, config=cfg.to_dict(),
                       valid_metrics={"MAE": 0.5, "Has0_acc_2": acc - 0.01},
                       test_metrics={"Has0_acc_2": acc, "MAE": 1.0 - acc / 2, "Corr": acc / 3},
                       meta={"device": "cpu (fake)"})


@pytest.fixture
def cfg() -> AMCCLConfig:
    return AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")


def stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in VOLATILE_COLUMNS if c in frame.columns]).reset_index(drop=True)


def test_one_row_per_pair_written_as_each_run_finishes(cfg, tmp_path):
    fake = FakeFit(csv=tmp_path / GRID_CSV)
    rows = run_grid(["full", "no_se"], [1111, 1112, 1113], cfg, data=DATA, out_dir=tmp_path,
                    fit_fn=fake, progress=False)
    assert fake.rows_seen == [0, 1, 2, 3, 4, 5]  # the CSV grows by one row per finished run
    assert list(zip(rows.variant, rows.seed)) == [("full", 1111), ("full", 1112), ("full", 1113),
                                                  ("no_se", 1111), ("no_se", 1112), ("no_se", 1113)]
    assert [c["se"] for c, _ in fake.calls] == [True] * 3 + [False] * 3  # the variant reached fit
    on_disk = read_grid(tmp_path)
    assert list(on_disk.columns[:4]) == ["variant", "seed", "dataset", "Has0_acc_2"]
    pd.testing.assert_frame_equal(stable(on_disk), stable(rows), check_dtype=False)  # floats round-trip
    row = rows.iloc[3]
    assert row.Has0_acc_2 == pytest.approx(0.7 + 0.011 - 0.03 + 1 / 3)
    assert row.valid_Has0_acc_2 == pytest.approx(row.Has0_acc_2 - 0.01)
    assert row.best_epoch == 1111 % 7 + 1 and row.epochs_run == 1 and row.device == "cpu (fake)"
    assert json.loads(row.overrides) == {"se": False}
    assert json.loads(row.config) == cfg.replace(se=False).to_dict()


def test_interrupted_grid_resumes_without_redoing_finished_pairs(cfg, tmp_path):
    variants, seeds = ["full", "no_refine"], [1111, 1112, 1113]
    crashing = FakeFit(fail_on_call=4)
    with pytest.raises(RuntimeError, match="simulated crash"):
        run_grid(variants, seeds, cfg, data=DATA, out_dir=tmp_path, fit_fn=crashing, progress=False)
    finished = read_grid(tmp_path)
    assert list(zip(finished.variant, finished.seed)) == [("full", 1111), ("full", 1112), ("full", 1113)]

    resumed = FakeFit()
    rows = run_grid(variants, seeds, cfg, data=DATA, out_dir=tmp_path, fit_fn=resumed, progress=False)
    assert [(c["lambda_refine"], s) for c, s in resumed.calls] == [(0.0, 1111), (0.0, 1112), (0.0, 1113)]
    fresh = run_grid(variants, seeds, cfg, data=DATA, out_dir=None, fit_fn=FakeFit(), progress=False)
    pd.testing.assert_frame_equal(stable(rows), stable(fresh), check_dtype=False)
    assert len(read_grid(tmp_path)) == 6

    again = FakeFit()  # a finished grid runs nothing
    run_grid(variants, seeds, cfg, data=DATA, out_dir=tmp_path, fit_fn=again, progress=False)
    assert again.calls == []


def test_extending_a_grid_runs_only_the_new_pairs(cfg, tmp_path):
    run_grid(["full"], [1111, 1112], cfg, data=DATA, out_dir=tmp_path, fit_fn=FakeFit(), progress=False)
    more = FakeFit()
    rows = run_grid(["full", "no_se"], [1111, 1112, 1113], cfg, data=DATA, out_dir=tmp_path,
                    fit_fn=more, progress=False)
    assert [(c["se"], s) for c, s in more.calls] == [(True, 1113), (False, 1111), (False, 1112), (False, 1113)]
    assert len(rows) == 6 and len(read_grid(tmp_path)) == 6
    subset = run_grid(["no_se"], [1112], cfg, data=DATA, out_dir=tmp_path, fit_fn=FakeFit(), progress=False)
    assert list(zip(subset.variant, subset.seed)) == [("no_se", 1112)]  # only the asked pairs return


def test_resuming_with_another_config_refuses_to_mix_results(cfg, tmp_path):
    run_grid(["full"], [1111], cfg, data=DATA, out_dir=tmp_path, fit_fn=FakeFit(), progress=False)
    with pytest.raises(ValueError, match=r"different config \(epochs: 2 -> 5\)"):
        run_grid(["full"], [1111], cfg.replace(epochs=5), data=DATA, out_dir=tmp_path,
                 fit_fn=FakeFit(), progress=False)
    # the device name and the preset's seed list do not change what a row means
    run_grid(["full"], [1111], cfg.replace(device="cpu", seeds=(1,)), data=DATA, out_dir=tmp_path,
             fit_fn=FakeFit(), progress=False)


def test_variants_are_checked_and_canonicalised_before_anything_runs(cfg, tmp_path):
    fake = FakeFit()
    with pytest.raises(ValueError, match="unknown variant 'no_sr' \\(did you mean no_se"):
        run_grid(["full", "no_sr"], [1111], cfg, data=DATA, out_dir=tmp_path, fit_fn=fake, progress=False)
    with pytest.raises(ValueError, match="cannot be combined"):
        run_grid(["kernel_1+kernel_3"], [1111], cfg, data=DATA, fit_fn=fake, progress=False)
    assert fake.calls == [] and not (tmp_path / GRID_CSV).exists()
    rows = run_grid(["full+no_se", " no_se + no_refine ", "no_se"], [1111, 1111], cfg, data=DATA,
                    fit_fn=fake, progress=False)
    assert list(rows.variant) == ["no_se", "no_se+no_refine"]  # duplicates dropped
    assert len(fake.calls) == 2


def test_num_cpus_sets_torch_threads_for_the_run_only(cfg):
    before = torch.get_num_threads()
    fake = FakeFit()
    rows = run_grid(["full"], [1111], cfg, data=DATA, fit_fn=fake, progress=False, resources={"num_cpus": 1})
    assert fake.threads_seen == [1] and rows.torch_threads.tolist() == [1]
    assert torch.get_num_threads() == before
    with pytest.raises(ValueError, match="unknown resource keys"):
        run_grid(["full"], [1111], cfg, data=DATA, fit_fn=fake, progress=False, resources={"gpus": 1})


def test_save_runs_gives_each_run_its_directory_and_resumes_a_killed_run(cfg, tmp_path):
    fake = FakeFit()
    run_grid(["no_se"], [1111], cfg, data=DATA, out_dir=tmp_path, fit_fn=fake, progress=False, save_runs=True)
    assert fake.kwargs_seen == [{"out_dir": str(tmp_path / "runs" / "no_se" / "seed_1111")}]
    killed = tmp_path / "runs" / "no_se" / "seed_1112"
    killed.mkdir(parents=True)
    (killed / "last.pt").write_bytes(b"")  # as fit leaves a run killed mid-training
    again = FakeFit()
    run_grid(["no_se"], [1111, 1112, 1113], cfg, data=DATA, out_dir=tmp_path, fit_fn=again,
             progress=False, save_runs=True)
    assert again.kwargs_seen == [
        {"out_dir": str(killed), "resume": True},  # fit continues from its checkpoint
        {"out_dir": str(tmp_path / "runs" / "no_se" / "seed_1113")},
    ]


def test_progress_is_one_bar_over_the_runs(cfg, capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: True)  # as on a terminal
    run_grid(["full", "no_se"], [1111], cfg, data=DATA, fit_fn=FakeFit(), progress=True)
    err = capsys.readouterr().err
    assert "ablation grid: 2 runs, 0 already in memory, 2 to run on the local executor" in err
    assert "ablation grid: 100%" in err and "2/2" in err and "last no_se seed 1111 MAE" in err
    assert "[1/2]" not in err  # no per-run lines any more: the returned frame is the summary


def test_no_bar_under_ci_nor_without_progress(cfg, capsys, monkeypatch):
    monkeypatch.setenv("CI", "1")
    monkeypatch.setattr("amccl.runtime.can_draw_bars", lambda stream=None: True)
    run_grid(["full", "no_se"], [1111], cfg, data=DATA, fit_fn=FakeFit(), progress=True)
    err = capsys.readouterr().err
    assert "2 to run" in err and "it/s" not in err and "run/s" not in err and "100%" not in err
    # instead of a bar: one plain log line per finished run, no \r or escape codes
    runs = [line for line in err.splitlines() if "ablation grid: run " in line]
    assert len(runs) == 2 and "run 2/2 done: no_se seed 1111 MAE" in runs[1], err
    assert "\r" not in err and "\x1b[" not in err
    monkeypatch.delenv("CI")
    run_grid(["full"], [1111], cfg, data=DATA, fit_fn=FakeFit(), progress=False)
    assert capsys.readouterr().err == ""


def test_a_second_process_cannot_run_the_same_grid_directory(cfg, tmp_path):
    import fcntl

    with open(tmp_path / ".grid.lock", "w") as held:  # what a running grid holds
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError, match="another process is running the grid"):
            run_grid(["full"], [1111], cfg, data=DATA, out_dir=tmp_path, fit_fn=FakeFit(), progress=False)
    rows = run_grid(["full"], [1111], cfg, data=DATA, out_dir=tmp_path, fit_fn=FakeFit(), progress=False)
    assert len(rows) == 1  # released: the grid runs


def test_a_piped_stderr_gets_log_lines_not_a_bar(cfg, capsys, monkeypatch):
    monkeypatch.delenv("CI", raising=False)  # capsys' stderr is no terminal: as under nohup or | tee
    run_grid(["full", "no_se"], [1111], cfg, data=DATA, fit_fn=FakeFit(), progress=True)
    err = capsys.readouterr().err
    assert "100%" not in err and "\r" not in err and "\x1b[" not in err
    assert len([line for line in err.splitlines() if "ablation grid: run " in line]) == 2
