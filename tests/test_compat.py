"""Official-checkpoint import: the key layout of docs/model.md's appendix, round trip, errors."""

import re

import pytest
import torch

from amccl import AMCCL, AMCCLConfig
from amccl.compat import CheckpointMismatch, load_reference_checkpoint
from tests.test_model import batch_for


def appendix_layout(cfg, hidden):
    """The non-BERT keys and shapes of docs/model.md's appendix, written out from the table."""
    d, f, r = cfg.post_dim, cfg.post_fusion_dim, cfg.skip_net_reduction
    c = {1: d // 3 + (d % 3 > 0), 3: d // 3 + (d % 3 > 1), 5: d // 3}
    keys = {}
    for mod, dim, length in (("audio_model", cfg.audio_dim, cfg.audio_len), ("video_model", cfg.vision_dim, cfg.vision_len)):
        keys[f"{mod}.position_embbeding.pe"] = (1, length, dim)
        for n in range(cfg.layers):
            p = f"{mod}.transformer_encoder.layers.{n}."
            keys.update({
                p + "self_attn.in_proj_weight": (3 * dim, dim), p + "self_attn.in_proj_bias": (3 * dim,),
                p + "self_attn.out_proj.weight": (dim, dim), p + "self_attn.out_proj.bias": (dim,),
                p + "linear1.weight": (2048, dim), p + "linear1.bias": (2048,),
                p + "linear2.weight": (dim, 2048), p + "linear2.bias": (dim,),
                p + "norm1.weight": (dim,), p + "norm1.bias": (dim,), p + "norm2.weight": (dim,), p + "norm2.bias": (dim,),
            })
    keys["AMC.kernel_size_predictor.2.weight"] = (3, d)
    keys["AMC.kernel_size_predictor.2.bias"] = (3,)
    for k in (1, 3, 5):
        keys[f"AMC.conv{k}.weight"] = (c[k], d, k)
        keys[f"AMC.conv{k}.bias"] = (c[k],)
    keys.update({"AMC.se_block.fc.0.weight": (d // 16, d), "AMC.se_block.fc.0.bias": (d // 16,),
                 "AMC.se_block.fc.2.weight": (d, d // 16), "AMC.se_block.fc.2.bias": (d,)})
    for mod, ch in (("text", hidden), ("audio", cfg.audio_dim), ("video", cfg.vision_dim)):
        keys.update({f"{mod}_skip_net.fc.0.weight": (ch // r, ch), f"{mod}_skip_net.fc.0.bias": (ch // r,),
                     f"{mod}_skip_net.fc.2.weight": (d, ch // r),
                     f"post_{mod}_layer_1.weight": (d, ch), f"post_{mod}_layer_1.bias": (d,)})
    keys.update({
        "post_fusion_layer_skip_connection.weight": (3 * f, 4 * d), "post_fusion_layer_skip_connection.bias": (3 * f,),
        "post_fusion_layer_2.weight": (2 * f, 3 * f), "post_fusion_layer_2.bias": (2 * f,),
        "post_fusion_layer_3.weight": (1, 2 * f), "post_fusion_layer_3.bias": (1,),
        "fusionBatchNorm.weight": (2 * f,), "fusionBatchNorm.bias": (2 * f,),
        "fusionBatchNorm.running_mean": (2 * f,), "fusionBatchNorm.running_var": (2 * f,),
        "fusionBatchNorm.num_batches_tracked": (),
    })
    return keys


def official_state_dict(model, cfg):
    """What the paper's code would save: `Model.` + our keys + the unused layers."""
    state = {"Model." + k: v.clone() for k, v in model.state_dict().items()}
    d, f = cfg.post_dim, cfg.post_fusion_dim
    extra = {
        "post_fusion_layer_1.weight": torch.randn(f, 3 * d), "post_fusion_layer_1.bias": torch.randn(f),
        "skip_connection_BatchNorm.weight": torch.ones(3 * f), "skip_connection_BatchNorm.bias": torch.zeros(3 * f),
        "skip_connection_BatchNorm.running_mean": torch.zeros(3 * f), "skip_connection_BatchNorm.running_var": torch.ones(3 * f),
        "skip_connection_BatchNorm.num_batches_tracked": torch.tensor(0),
        "post_text_layer_2.weight": torch.randn(d, d), "post_audio_layer_2.weight": torch.randn(d, d),
        "post_video_layer_2.weight": torch.randn(d, d),
        "text_model.model.embeddings.position_ids": torch.arange(512).unsqueeze(0),
    }
    for k, v in model.state_dict().items():  # the template encoder layer nn.TransformerEncoder keeps
        m = re.match(r"(audio_model|video_model)\.transformer_encoder\.layers\.0\.(.*)", k)
        if m:
            extra[f"{m.group(1)}.encoder_layer.{m.group(2)}"] = torch.randn_like(v.float())
    state.update({"Model." + k: v for k, v in extra.items()})
    return state


@pytest.mark.parametrize("dataset", ["mosi", "sims"])
def test_our_keys_are_the_appendix_layout(dataset):
    cfg = AMCCLConfig.for_dataset(dataset, text_encoder="tiny-random")
    model = AMCCL(cfg)
    ours = {k: tuple(v.shape) for k, v in model.state_dict().items() if not k.startswith("text_model.model.")}
    assert ours == appendix_layout(cfg, model.text_model.hidden_size)


def test_round_trip_gives_the_same_outputs(tmp_path):
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random")
    torch.manual_seed(1)
    source = AMCCL(cfg)
    with torch.no_grad():  # non-default BatchNorm statistics, so they must travel too
        source.fusionBatchNorm.running_mean.normal_()
        source.fusionBatchNorm.running_var.uniform_(0.5, 2.0)
    source.eval()
    path = tmp_path / "official.pth"
    torch.save(official_state_dict(source, cfg), path)
    torch.manual_seed(2)  # a differently initialised model must be overwritten entirely
    loaded = load_reference_checkpoint(path, cfg)
    assert not loaded.training
    batch = batch_for(cfg, b=5)
    expected, got = source(**batch), loaded(**batch)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key


def test_mismatched_checkpoints_list_the_keys(tmp_path):
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random")
    model = AMCCL(cfg)
    state = official_state_dict(model, cfg)
    del state["Model.AMC.conv3.bias"]
    state["Model.some_new_layer.weight"] = torch.zeros(2)
    state["Model.post_text_layer_1.weight"] = torch.zeros(7, 32)
    path = tmp_path / "bad.pth"
    torch.save(state, path)
    with pytest.raises(CheckpointMismatch) as err:
        load_reference_checkpoint(path, cfg)
    text = str(err.value)
    assert "missing (1): AMC.conv3.bias" in text
    assert "unexpected (1): some_new_layer.weight" in text
    assert "post_text_layer_1.weight: checkpoint (7, 32), model (64, 32)" in text
    assert str(path) in text


def test_refuses_non_tensor_pickles(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("ran",))

    path = tmp_path / "evil.pth"
    torch.save({"Model.x": Evil()}, path)
    with pytest.raises(Exception, match="(?i)weights.only|unsupported|global"):
        load_reference_checkpoint(path, AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random"))


def test_non_reference_state_dict_is_rejected(tmp_path):
    path = tmp_path / "ours.pth"
    torch.save({"AMC.conv1.weight": torch.zeros(1)}, path)
    with pytest.raises(CheckpointMismatch, match="not an official-code state dict"):
        load_reference_checkpoint(path, AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random"))


@pytest.mark.parametrize("encoder", ["bert-base-uncased", "/no/such/bert"])
def test_official_checkpoint_loads_without_a_bert_directory(tmp_path, monkeypatch, encoder):
    """The checkpoint holds every BERT weight: its architecture is read from the tensors."""
    monkeypatch.delenv("AMCCL_BERT_EN", raising=False)
    monkeypatch.chdir(tmp_path)  # no ./bert-base-uncased either
    source_cfg = AMCCLConfig.for_dataset("mosi", text_encoder="tiny-random")
    torch.manual_seed(1)
    source = AMCCL(source_cfg).eval()
    path = tmp_path / "official.pth"
    torch.save(official_state_dict(source, source_cfg), path)
    cfg = AMCCLConfig.for_dataset("mosi", text_encoder=encoder)  # the paper's name, or nothing there
    loaded = load_reference_checkpoint(path, cfg)
    assert loaded.text_model.model.config.num_attention_heads == 2  # tiny-random's, not hidden / 64
    batch = batch_for(source_cfg, b=5)
    expected, got = source(**batch), loaded(**batch)
    for key in expected:
        assert torch.equal(expected[key], got[key]), key
