"""The speed switches of `cdt train`: the cheaper CPU dropout draws the same masks in distribution and computes
the same function with them, eval mode is untouched, locus runs draw every cell once, bf16 only where it pays."""

from __future__ import annotations

import math

import pytest
import torch
from cdt.config import get_preset
from cdt.models import CDT2, CDT2Config
from cdt.models.blocks import attention_with_dropout, cheap_dropout, drop_probability, keep_mask, set_fast_dropout
from cdt.train import loop
from cdt.train.config import PLAIN_TRAINING, TrainConfig
from cdt.train.loop import bf16_autocast, locus_run_batches


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5])
def test_keep_mask_keeps_each_element_with_probability_one_minus_p(p):
    torch.manual_seed(0)
    n = 2_000_001  # not a multiple of 4: the last 64-bit draw is used for one element only
    mask = keep_mask(torch.Size([n]), p, torch.device("cpu"))
    assert mask.dtype == torch.bool and mask.shape == (n,)
    sigma = math.sqrt(p * (1 - p) / n)
    assert abs(mask.float().mean().item() - (1 - p)) < 5 * sigma
    # the four elements of one 64-bit draw (16 bits each) are independent: every pair of them
    quads = mask[: n - 1].view(-1, 4).float()
    for i, j in [(0, 1), (1, 2), (2, 3), (0, 3)]:
        both = (quads[:, i] * quads[:, j]).mean().item()
        assert abs(both - (1 - p) ** 2) < 5 * math.sqrt((1 - p) ** 2 / len(quads))


@pytest.mark.parametrize(("p", "realised"), [(0.3, 19661 / 65536), (0.5, 0.5), (0.1, 6554 / 65536)])
def test_drop_probability_is_p_on_a_16_bit_grid(p, realised):
    assert drop_probability(p) == realised
    assert abs(drop_probability(p) - p) <= 2**-17


def test_cheap_dropout_is_mask_times_input_over_keep_probability():
    x = torch.randn(3, 5, 7, requires_grad=True)
    torch.manual_seed(1)
    y = cheap_dropout(x, 0.3)
    torch.manual_seed(1)
    mask = keep_mask(x.shape, 0.3, x.device)
    keep = 1 - 19661 / 65536  # round(0.3 * 2^16) / 2^16 dropped
    torch.testing.assert_close(y, x.detach() * mask / keep)
    y.sum().backward()
    torch.testing.assert_close(x.grad, mask.float() / keep)


def test_attention_with_dropout_is_dropped_softmax_weights_times_v():
    torch.manual_seed(0)
    q, k, v = torch.randn(2, 4, 6, 8), torch.randn(2, 4, 9, 8), torch.randn(2, 4, 9, 8)
    torch.manual_seed(2)
    out = attention_with_dropout(q, k, v, 0.3)
    torch.manual_seed(2)
    mask = keep_mask(torch.Size([2, 4, 6, 9]), 0.3, q.device)
    weights = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(8), dim=-1)
    torch.testing.assert_close(out, (weights * mask / (1 - 19661 / 65536)) @ v)


def test_fast_dropout_changes_nothing_in_eval_mode():
    torch.manual_seed(0)
    cfg = CDT2Config.from_preset(get_preset("tiny"))
    model = CDT2(cfg).eval()
    dna, rna = torch.randn(2, cfg.n_bins, cfg.dna_dim), torch.rand(5, cfg.n_genes)
    locus_index = torch.tensor([0, 1, 1, 0, 1])
    with torch.no_grad():
        plain = model(dna, rna, locus_index=locus_index).rna
        fast = set_fast_dropout(model, True)(dna, rna, locus_index=locus_index).rna
    assert torch.equal(plain, fast)


def test_fast_dropout_trains_with_the_same_expected_output():
    # dropout keeps the expectation: averaged over many training-mode passes, one block's output under the cheap
    # route and under PyTorch's agree to within the Monte-Carlo error
    torch.manual_seed(0)
    cfg = CDT2Config.from_preset(get_preset("tiny"))
    block = CDT2(cfg).dna_self_attn_layers[0].train()
    x = torch.randn(1, 16, cfg.d_model)
    with torch.no_grad():
        means = []
        for fast in (False, True):
            set_fast_dropout(block, fast)
            means.append(torch.stack([block(x)[0] for _ in range(400)]).mean(0))
    assert (means[0] - means[1]).abs().mean().item() < 0.02


def test_locus_runs_draw_every_cell_once_with_few_loci_per_batch():
    loci = torch.tensor([0] * 13 + [1] * 6 + [2] * 9 + [3] * 2 + [4] * 10)
    gen = torch.Generator().manual_seed(0)
    batches = locus_run_batches(loci, 8, 4, gen)
    assert sorted(i for b in batches for i in b) == list(range(len(loci)))
    assert [len(b) for b in batches] == [8, 8, 8, 8, 8]
    # 13 runs (13 = 4+4+4+1, 6 = 4+2, 9 = 4+4+1, 2, 10 = 4+4+2) over 5 batches: each batch boundary splits at most
    # one run, so the batches hold at most 13 + 4 (batch, locus) pairs
    assert sum(len(set(loci[b].tolist())) for b in batches) <= 17
    again = locus_run_batches(loci, 8, 4, torch.Generator().manual_seed(0))
    assert again == batches
    assert locus_run_batches(loci, 8, 4, gen) != batches  # the next epoch draws anew
    assert len(locus_run_batches(loci, 16, 4, gen, drop_last=True)) == 2


def test_locus_run_must_be_positive():
    with pytest.raises(ValueError, match="TrainConfig.locus_run=0 must be >= 1"):
        TrainConfig.for_model("cdt2", "tiny", locus_run=0)


def test_bf16_autocast_only_with_bf16_units(monkeypatch):
    cpu = torch.device("cpu")
    monkeypatch.setattr(loop, "cpu_bf16_units", lambda: False)
    with bf16_autocast(cpu):
        assert not torch.is_autocast_enabled("cpu")
    monkeypatch.setattr(loop, "cpu_bf16_units", lambda: True)
    with bf16_autocast(cpu):
        assert torch.is_autocast_enabled("cpu") and torch.get_autocast_dtype("cpu") == torch.bfloat16
    with bf16_autocast(cpu, enabled=False):
        assert not torch.is_autocast_enabled("cpu")
    with bf16_autocast(cpu, width=48):  # mini width: the casts cost more than bf16 saves
        assert not torch.is_autocast_enabled("cpu")
    assert loop.bf16_pays(cpu, 512) and not loop.bf16_pays(cpu, loop.CPU_BF16_MIN_WIDTH - 1)
    assert loop.model_width(TrainConfig.for_model("cdt2", "paper")) == 512
    assert loop.model_width(TrainConfig.for_model("cdt1", "paper")) == 768
    assert loop.model_width(TrainConfig.for_model("cdt2", "mini")) == 48


@pytest.mark.parametrize(("flag", "plain"), [([], False), (["--no-fast"], True)])
def test_cli_no_fast_trains_the_plain_way(monkeypatch, tmp_path, flag, plain):
    import cdt.train
    from cdt.cli import app
    from typer.testing import CliRunner

    seen = []

    def fake_train(cfg, files, runs_dir, progress=True):
        seen.append(cfg)
        raise RuntimeError("stop after the configuration")

    monkeypatch.setattr(cdt.train, "train", fake_train)
    args = ["train", "--model", "cdt2", "--preset", "tiny", "--data", str(tmp_path), *flag]
    result = CliRunner().invoke(app, args)
    assert str(result.exception) == "stop after the configuration"
    cfg = seen[0]
    switches = {k: getattr(cfg, k) for k in PLAIN_TRAINING}
    assert switches == (
        PLAIN_TRAINING if plain else {"fast_dropout": True, "locus_run": 4, "fused_adamw": True, "bf16": True}
    )


def test_cheap_dropout_keeps_the_expectation():
    torch.manual_seed(3)
    n = 4_000_000
    y = cheap_dropout(torch.ones(n), 0.3)
    keep = 1 - drop_probability(0.3)
    sigma = math.sqrt(keep * (1 - keep) / n) / keep  # std of the mean of kept/keep indicators
    assert abs(y.mean().item() - 1.0) < 5 * sigma
    assert torch.unique(y).tolist() == [0.0, pytest.approx(1 / keep)]
