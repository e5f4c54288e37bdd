"""Shapes, gradients and behaviour of every module at MOSI, MOSEI and SIMS sizes."""

import os
import subprocess
import sys

import pytest
import torch

from amccl import AMCCL, AMCCLConfig
from amccl.encoders import SequenceEncoder, sinusoidal_table
from amccl.evaluation import text_cache_rows
from amccl.fusion import AMC, SEBlock, SkipGate, kernel_channels
from amccl.losses import amccl_loss
from tests.conftest import random_batch


def tiny(dataset="mosi", **kw):
    return AMCCLConfig.for_dataset(dataset, text_encoder="tiny-random", **kw)


def batch_for(cfg, b=4, seed=0):
    return random_batch(cfg, b, seed)


# --- building blocks ---------------------------------------------------------------------
def test_sinusoidal_table_by_hand_with_odd_dim():
    pe = sinusoidal_table(3, 5)
    assert pe.shape == (1, 3, 5)
    p = 2
    for i in range(3):  # sin columns 0, 2, 4
        assert pe[0, p, 2 * i].item() == pytest.approx(torch.sin(torch.tensor(p * 10000 ** (-2 * i / 5))).item(), abs=1e-6)
    for i in range(2):  # cos columns 1, 3; the third cos column is dropped
        assert pe[0, p, 2 * i + 1].item() == pytest.approx(torch.cos(torch.tensor(p * 10000 ** (-2 * i / 5))).item(), abs=1e-6)


@pytest.mark.parametrize("d,expected", [(64, [22, 21, 21]), (128, [43, 43, 42]), (3, [1, 1, 1]), (5, [2, 2, 1])])
def test_kernel_channels_add_up(d, expected):
    assert kernel_channels(d, 3) == expected and sum(expected) == d


@pytest.mark.parametrize("dim", [5, 33, 74, 709])
def test_sequence_encoder_shapes_and_grad(dim):
    heads = {5: 1, 33: 3, 74: 2, 709: 1}[dim]
    enc = SequenceEncoder(dim, heads, layers=1, max_len=12)
    x = torch.randn(2, 12, dim, requires_grad=True)
    y = enc(x)
    assert y.shape == (2, 12, dim)
    y.sum().backward()
    assert x.grad is not None and all(p.grad is not None for p in enc.parameters())


def test_padding_mask_makes_padding_irrelevant_to_valid_steps():
    enc = SequenceEncoder(20, 4, layers=2, max_len=10, padding_mask=True).eval()
    x = torch.randn(1, 10, 20)
    lengths = torch.tensor([6])
    y1 = enc(x, lengths)
    x2 = x.clone()
    x2[:, 6:] = 100.0  # change only padding
    assert torch.allclose(enc(x2, lengths)[:, :6], y1[:, :6], atol=1e-5)
    plain = SequenceEncoder(20, 4, layers=2, max_len=10).eval()  # the quirk: no mask
    assert not torch.allclose(plain(x2)[:, :6], plain(x)[:, :6], atol=1e-3)


def test_amc_weights_shapes_and_switches():
    x = torch.randn(5, 64, 3, requires_grad=True)
    amc = AMC(64)
    out = amc(x)
    assert out.shape == (5, 64)
    assert torch.allclose(amc.last_weights.sum(1), torch.ones(5))
    out.sum().backward()
    assert all(p.grad is not None for p in amc.parameters())
    fixed = AMC(64, adaptive=False)
    fixed(x)
    assert torch.allclose(fixed.last_weights, torch.full((5, 3), 1 / 3))
    assert fixed.kernel_size_predictor is None
    single = AMC(64, kernels=(3,), se=False)
    assert single.conv3.out_channels == 64 and single.se_block is None
    assert single(x).shape == (5, 64)


def test_amc_by_hand_with_identity_kernels():
    """Kernel 1 only, identity conv, fixed weight 1, no SE: the output is the mean over positions."""
    amc = AMC(4, kernels=(1,), se=False, adaptive=False)
    with torch.no_grad():
        amc.conv1.weight.copy_(torch.eye(4).unsqueeze(2))
        amc.conv1.bias.zero_()
    x = torch.arange(12.0).view(1, 4, 3)
    assert torch.allclose(amc(x), x.mean(2))


def test_se_block_and_skip_gate_by_hand():
    se = SEBlock(16, 16)
    with torch.no_grad():
        for p in se.parameters():
            p.zero_()
    x = torch.randn(2, 16, 3)
    assert torch.allclose(se(x), x * 0.5)  # sigmoid(0) = 0.5
    gate = SkipGate(8, 2, 6)
    assert gate.fc[0].weight.shape == (4, 8) and gate.fc[2].weight.shape == (6, 4) and gate.fc[2].bias is None
    assert gate(torch.randn(3, 8)).shape == (3, 6)


# --- the whole model ---------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["mosi", "mosei", "sims"])
def test_model_shapes_and_gradients_reach_every_parameter(dataset):
    cfg = tiny(dataset)
    torch.manual_seed(0)
    model = AMCCL(cfg).train()
    batch = batch_for(cfg, b=4)
    out = model(**batch)
    d, f = cfg.post_dim, cfg.post_fusion_dim
    assert out["M"].shape == (4, 1)
    for key in ("Feature_t", "Feature_a", "Feature_v"):
        assert out[key].shape == (4, d)
    assert out["Feature_f"].shape == (4, 3 * f)
    amccl_loss(out, torch.tensor([-2.0, -0.4, 0.0, 1.6]), cfg)["loss"].backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None and "pooler" not in n]
    assert no_grad == []  # the BERT pooler is the only part the forward never reads


def test_batch_of_one_in_train_and_eval_mode():
    cfg = tiny("mosi")
    model = AMCCL(cfg)
    batch = batch_for(cfg, b=1)
    running = model.fusionBatchNorm.running_mean.clone()
    out = model.train()(**batch)
    assert out["M"].shape == (1, 1)
    assert torch.equal(model.fusionBatchNorm.running_mean, running)  # B = 1 does not update stats
    amccl_loss(out, torch.tensor([0.4]), cfg)["loss"].backward()
    assert model.eval()(**batch)["M"].shape == (1, 1)


def test_int_and_float_text_give_the_same_output():
    cfg = tiny("mosi")
    model = AMCCL(cfg).eval()
    batch = batch_for(cfg)
    as_int = dict(batch, text=batch["text"].long())
    assert torch.allclose(model(**batch)["M"], model(**as_int)["M"])


@pytest.mark.parametrize("key,shape,message", [
    ("audio", (4, 50, 6), "audio: expected shape (B, La<=50, 5), got (4, 50, 6)"),
    ("vision", (4, 50), "vision: expected shape"),
    ("text", (4, 2, 50), "text: expected shape (B, 3, Lt), got (4, 2, 50)"),
    ("audio", (4, 60, 5), "longer than the config allows"),
    ("vision", (3, 50, 20), "vision: batch size 3 differs from text's 4"),
])
def test_bad_input_errors_name_the_modality_and_shapes(key, shape, message):
    cfg = tiny("mosi")
    model = AMCCL(cfg)
    batch = batch_for(cfg)
    batch[key] = torch.zeros(shape)
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        model(**batch)


def test_print_shows_hyper_parameters():
    text = repr(AMCCL(tiny("mosi")))
    for fragment in ("d=64, f=128", "kernels=(1, 3, 5)", "dim=5, heads=1, layers=2", "skip_net_reduction=2"):
        assert fragment in text


def test_variants_with_masks_ignore_padding_and_quirks_do_not():
    fixed = tiny("mosi", padding_mask=True, last_valid_step=True, masked_means=True)
    quirk = tiny("mosi")
    for cfg, should_match in ((fixed, True), (quirk, False)):
        torch.manual_seed(0)
        model = AMCCL(cfg).eval()
        batch = batch_for(cfg)
        batch["audio_lengths"] = torch.tensor([10, 20, 30, 40])
        noisy = dict(batch, audio=batch["audio"].clone())
        for i, n in enumerate(batch["audio_lengths"]):
            noisy["audio"][i, n:] = 5.0  # change only audio padding
        same = torch.allclose(model(**batch)["M"], model(**noisy)["M"], atol=1e-5)
        assert same == should_match
    # trimming the padded tail gives the same numbers when padding is irrelevant
    torch.manual_seed(0)
    model = AMCCL(fixed).eval()
    batch = batch_for(fixed)
    batch["audio_lengths"] = torch.tensor([10, 20, 30, 40])
    trimmed = dict(batch, audio=batch["audio"][:, :40])
    assert torch.allclose(model(**batch)["M"], model(**trimmed)["M"], atol=1e-5)


def test_last_valid_step_reads_the_last_valid_frame():
    cfg = tiny("mosi", last_valid_step=True, dropout_unimodal=0.0)
    model = AMCCL(cfg).eval()
    audio = torch.randn(2, 50, 5)
    lengths = torch.tensor([7, 50])
    states = model.audio_model(audio)
    h, _ = model.encode_audio(audio, lengths)
    expected = torch.relu(model.post_audio_layer_1(torch.stack([states[0, 6], states[1, 49]])))
    assert torch.allclose(h, expected, atol=1e-6)


def test_frozen_text_cache_matches_the_bert_pass():
    cfg = tiny("mosi", freeze_text=True)
    model = AMCCL(cfg).eval()
    batch = batch_for(cfg)
    feats = text_cache_rows(model, batch["text"], batch_size=3)
    assert feats.shape == (4, 3, model.text_model.hidden_size)
    direct = model(**batch)
    cached = model(**batch, text_feats=feats)
    for key in direct:
        assert torch.allclose(direct[key], cached[key], atol=1e-5), key
    masked = AMCCL(tiny("mosi", freeze_text=True, masked_means=True)).eval()
    masked.load_state_dict(model.state_dict())
    assert torch.allclose(masked(**batch)["M"], masked(**batch, text_feats=feats)["M"], atol=1e-5)


def test_concat_fusion_has_no_amc_and_runs():
    cfg = tiny("mosi", fusion="concat")
    model = AMCCL(cfg)
    assert model.AMC is None
    assert model.post_fusion_layer_skip_connection.in_features == 6 * cfg.post_dim
    assert model(**batch_for(cfg))["M"].shape == (4, 1)


@pytest.mark.slow
def test_default_encoder_loads_offline_without_any_cache(tmp_path):
    """The embedded MiniLM loads with the hub offline and an empty HF cache: nothing downloaded."""
    code = (
        "from amccl import AMCCL, AMCCLConfig; import torch;"
        "m = AMCCL(AMCCLConfig.for_dataset('mosi', profile='demo'));"  # demo: the embedded MiniLM
        "print(m.text_model.hidden_size, m.text_model.model.config.num_hidden_layers)"
    )
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(tmp_path / "hf"))
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split()[-2:] == ["384", "6"]
    assert not (tmp_path / "hf").exists() or not any((tmp_path / "hf").rglob("*.safetensors"))


def test_a_local_bert_directory_works_by_path(tmp_path):
    """A local BERT directory (as bert-base-uncased / bert-base-chinese are laid out: config.json,
    the weights, vocab.txt) is used by pointing the config at it; H is read from its config."""
    from transformers import BertConfig, BertModel

    from amccl.bert import load_tokenizer
    from amccl.data import load_data

    local = tmp_path / "my-bert"
    BertModel(BertConfig(vocab_size=30522, hidden_size=48, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=64)).save_pretrained(local)
    load_tokenizer("minilm").save_pretrained(local)  # the bert-base-uncased vocabulary
    cfg = AMCCLConfig.for_dataset("mosi", profile="smoke", text_encoder=str(local), synthetic_sizes=(8, 4, 4))
    model = AMCCL(cfg)
    assert model.text_model.hidden_size == 48 and model.post_text_layer_1.in_features == 48
    data = load_data(cfg)  # the embedded default, tokenised with this directory's tokenizer
    out = model(text=torch.as_tensor(data.train.text[:3]), audio=torch.as_tensor(data.train.audio[:3]),
                vision=torch.as_tensor(data.train.vision[:3]))
    assert out["M"].shape == (3, 1) and out["Feature_t"].shape == (3, cfg.post_dim)

    with pytest.raises(FileNotFoundError, match="no config.json.*local BERT directory"):
        AMCCL(cfg.replace(text_encoder=str(tmp_path / "missing")))


def test_one_batch_is_overfit():
    """The whole model and loss can fit one small batch: the L1 falls far below its start."""
    cfg = tiny(dropout_fusion=0.0, dropout_unimodal=0.0, encoder_dropout=0.0)
    torch.manual_seed(0)
    model = AMCCL(cfg).train()
    batch = random_batch(cfg, b=8, seed=1)
    labels = torch.linspace(-3, 3, 8)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    first = None
    for _ in range(150):
        losses = amccl_loss(model(**batch), labels, cfg)
        optimizer.zero_grad()
        losses["loss"].backward()
        optimizer.step()
        first = float(losses["l1"].detach()) if first is None else first
    assert float(losses["l1"].detach()) < 0.1 * first, first
