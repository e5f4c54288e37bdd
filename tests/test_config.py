"""The config: the paper's per-dataset defaults, overrides and their errors."""

import json

import pytest

from amccl import AMCCLConfig
from amccl.config import DATASETS, default_profile


@pytest.mark.parametrize("dataset,expected", [
    ("mosi", dict(batch_size=64, lr_audio=1e-3, lr_other=5e-4, wd_other=0.001, audio_heads=1, vision_heads=4,
                  post_dim=64, post_fusion_dim=128, dropout_fusion=0.2, dropout_unimodal=0.1, skip_net_reduction=2,
                  gamma=0.01, inter_weight=0.2, lambda_refine=4.0, alpha=0.8, epochs=150, early_stop=30,
                  audio_dim=5, vision_dim=20, audio_len=50, vision_len=50, text_len=50)),
    ("mosei", dict(batch_size=128, lr_audio=5e-4, lr_other=2.5e-3, wd_bert=0.001, wd_audio=0.0, wd_other=0.01,
                   audio_heads=2, vision_heads=5, post_dim=128, post_fusion_dim=256, dropout_unimodal=0.01,
                   skip_net_reduction=8, gamma=0.005, alpha=0.4, epochs=100, early_stop=20,
                   audio_dim=74, vision_dim=35, audio_len=500, vision_len=375)),
    ("sims", dict(batch_size=64, audio_heads=3, vision_heads=1, dropout_unimodal=0.4, gamma=0.0025,
                  inter_weight=1.0, intra_weight=1.0, lambda_refine=3.0, alpha=0.4, audio_dim=33, vision_dim=709,
                  text_len=39, audio_len=400, vision_len=55)),
])
def test_paper_defaults(dataset, expected):
    cfg = AMCCLConfig.for_dataset(dataset)
    for key, value in expected.items():
        assert getattr(cfg, key) == value, key
    assert (cfg.k, cfg.gain, cfg.temperature, cfg.lr_bert) == (0.5, 1.5, 0.03, 5e-5)


def test_every_dataset_builds_and_simsv2_uses_runnable_heads():
    for name in DATASETS:
        cfg = AMCCLConfig.for_dataset(name)
        assert cfg.audio_dim % cfg.audio_heads == 0
    assert AMCCLConfig.for_dataset("simsv2").audio_heads == 1


def test_one_line_overrides_from_python_and_cli_strings():
    cfg = AMCCLConfig.for_dataset("mosi", gamma=0)
    assert cfg.gamma == 0.0 and isinstance(cfg.gamma, float)
    cli = cfg.override("se=false", "kernels=1,3", "epochs=3", "data_path=/tmp/x.pkl", "text_encoder=/models/bert")
    assert (cli.se, cli.kernels, cli.epochs, cli.data_path) == (False, (1, 3), 3, "/tmp/x.pkl")
    assert cfg.se is True  # the original is unchanged


def test_unknown_key_suggests_close_matches():
    with pytest.raises(KeyError, match="unknown config key 'gama'; did you mean gamma"):
        AMCCLConfig.for_dataset("mosi", gama=0)
    with pytest.raises(KeyError, match="lambda_refine"):
        AMCCLConfig.for_dataset("mosi").override("lamda_refine=1")


@pytest.mark.parametrize("assignment,message", [
    ("epochs=abc", "config key 'epochs' expects int, got 'abc'"),
    ("se=maybe", "config key 'se' expects bool"),
    ("epochs=2.5", "expects int"),
])
def test_wrong_types_name_the_key(assignment, message):
    with pytest.raises(TypeError, match=message):
        AMCCLConfig.for_dataset("mosi").override(assignment)


@pytest.mark.parametrize("assignment", ["fusion=sum", "kernels=2", "positives=all", "amp=fp8"])
def test_invalid_values_are_refused(assignment):
    with pytest.raises(ValueError):
        AMCCLConfig.for_dataset("mosi").override(assignment)


def test_round_trips_through_json():
    cfg = AMCCLConfig.for_dataset("sims", profile="smoke", kernels=(3,), se=False)
    again = AMCCLConfig.from_dict(json.loads(json.dumps(cfg.to_dict())))
    assert again == cfg


def test_profiles_shrink_only_the_run():
    paper, smoke = AMCCLConfig.for_dataset("mosi"), AMCCLConfig.for_dataset("mosi", profile="smoke")
    assert smoke.epochs < paper.epochs and smoke.profile == "smoke"
    assert (smoke.post_dim, smoke.gamma, smoke.lr_audio) == (paper.post_dim, paper.gamma, paper.lr_audio)


def test_the_smoke_switch(monkeypatch):
    monkeypatch.delenv("AMCCL_PROFILE", raising=False)
    monkeypatch.setenv("CI", "true")
    assert default_profile() == "smoke"
    monkeypatch.delenv("CI")
    assert default_profile() == "demo"
    monkeypatch.setenv("AMCCL_PROFILE", "paper")
    assert default_profile() == "paper"
    monkeypatch.setenv("AMCCL_PROFILE", "huge")
    with pytest.raises(ValueError, match="AMCCL_PROFILE"):
        default_profile()


def test_demo_presets_keep_what_the_notebooks_claim():
    """The demo's time cuts never go below what notebooks 02-04 say they show."""
    from amccl.presets import preset

    grid = preset("ablation_grid", "demo")
    assert grid.variants is None and len(grid.seeds) >= 3  # 03: every variant over at least 3 seeds
    assert len(preset("seed_table", "demo").seeds) >= 3
    assert preset("seed_table", "demo").overrides == grid.overrides  # 02's spread is 03's noise
    assert set(preset("embedding_models", "demo").variants) == {"full", "no_cl"}  # 04: trained vs no_cl
    assert len(preset("gamma_sweep", "demo").seeds) >= 3
    assert preset("ablation_grid", "demo").executor == "processes" and preset("ablation_grid", "demo").trials > 0
    demo = AMCCLConfig.for_dataset("mosi", profile="demo")
    assert not demo.freeze_text and demo.epochs >= 10  # 02 fine-tunes the text encoder


def test_smoke_presets_keep_ci_quiet_and_quick():
    """Smoke (CI): no progress bars, no notebook-02 checkpoint in 04, runs in this process."""
    from amccl.presets import PRESETS, preset

    assert not any(PRESETS[name]["smoke"].progress for name in PRESETS)
    assert all(PRESETS[name]["demo"].progress for name in PRESETS)
    assert not preset("embedding_models", "smoke").checkpoint and preset("embedding_models", "demo").checkpoint
    assert {preset(name, "smoke").executor for name in PRESETS} == {"local"}
    with pytest.raises(KeyError, match="unknown preset"):
        preset("nope", "smoke")
