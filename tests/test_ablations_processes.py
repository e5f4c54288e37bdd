"""The process executor: every core of one machine, the local executor's rows bit for bit."""

from __future__ import annotations

import pandas as pd
import pytest

from amccl.ablations.grid import VOLATILE_COLUMNS, make_executor, read_grid, run_grid
from amccl.ablations.process_executor import ProcessExecutor, default_workers
from amccl.config import AMCCLConfig


def stable(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.drop(columns=[c for c in VOLATILE_COLUMNS if c in frame.columns]).reset_index(drop=True)


@pytest.mark.parametrize("num_cpus,cores,expected", [(1, 2, 2), (1, 16, 16), (2, 16, 8), (4, 2, 1), (1, 1, 1)])
def test_workers_fill_the_cores_with_num_cpus_threads_each(num_cpus, cores, expected):
    assert default_workers(num_cpus, cores) == expected


def test_resources_and_workers_reach_the_executor():
    run = make_executor("processes", resources={"num_cpus": 2}, workers=3)
    assert isinstance(run.__self__, ProcessExecutor) and (run.__self__.num_cpus, run.__self__.workers) == (2, 3)
    with pytest.raises(ValueError, match="'local', 'processes', 'ray'"):
        make_executor("threads")


def test_smoke_grid_gives_the_local_executors_rows_on_two_processes(tiny_data, tmp_path):
    """Real training (tiny-random encoder, 2 epochs): 2 variants x 2 seeds, 2 workers, 1 thread each."""
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random")
    args = (["full", "no_se"], [1111, 1112], cfg)
    local = run_grid(*args, data=tiny_data, out_dir=tmp_path / "local", resources={"num_cpus": 1}, progress=False)
    spawned = run_grid(*args, data=tiny_data, out_dir=tmp_path / "processes", executor="processes",
                       resources={"num_cpus": 1}, workers=2, progress=False)
    assert len(local) == 4 and local["Has0_acc_2"].notna().all()
    pd.testing.assert_frame_equal(stable(local), stable(spawned))  # bit-identical, timing aside
    assert len(read_grid(tmp_path / "processes")) == 4
    assert not local.loc[local.variant == "full", "MAE"].equals(local.loc[local.variant == "no_se", "MAE"])


def test_a_second_grid_on_the_same_data_reuses_the_warm_workers(tiny_data):
    from amccl.ablations import process_executor as px

    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder="tiny-random", epochs=1)
    first = run_grid(["full"], [1111, 1112], cfg, data=tiny_data, executor="processes", workers=2, progress=False)
    pool = px._POOL["pool"]
    second = run_grid(["no_se"], [1111], cfg.replace(gamma=0.0), data=tiny_data, executor="processes", workers=2,
                      progress=False)
    assert px._POOL["pool"] is pool and len(first) == 2 and len(second) == 1
    assert px.warm_pool(object(), 1, 2) is not pool  # other data: a new pool (workers start on first use)
    px.close_pool()
    assert px._POOL == {}
