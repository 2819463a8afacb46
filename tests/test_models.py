"""CDT v1 / CDT-II / CDT-III: published parameter counts and key names, attention capture, per-locus DNA."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import pytest
import torch
from cdt.config import get_preset
from cdt.models import CDT1, CDT2, CDT3, CDT1Config, CDT2Config, CDT3Config, ModelOutput
from cdt.models.blocks import VirtualCellEmbedder
from cdt.models.summary import build_models, module_summary, shape_str
from cdt.pl.schematic import draw_schematic
from torch import nn

matplotlib.use("Agg")
torch.set_num_threads(2)
REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)
PAPER, TINY, MINI = get_preset("paper"), get_preset("tiny"), get_preset("mini")


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def on_meta(cls, cfg):
    with torch.device("meta"):
        return cls(cfg)


def reference_keys(name: str) -> dict[str, list[int]]:
    path = REFERENCE / f"checkpoint_keys_{name}.json"
    listing = json.loads(path.read_text())["state_dict"]
    return dict(listing) if not isinstance(listing, dict) else listing


# ---------------------------------------------------------------------------------------------------------------
# sizes at the paper config


def test_paper_parameter_counts_are_the_published_ones():
    assert n_params(on_meta(CDT1, CDT1Config.from_preset(PAPER))) == 60_093_752
    assert n_params(on_meta(CDT2, CDT2Config.from_preset(PAPER))) == 21_072_185
    assert n_params(on_meta(CDT3, CDT3Config.from_preset(PAPER))) == 30_987_766


def test_ablation_sizes():
    # 9,335-gene CDT-II: each extra gene adds an identity row (512) and an output row (512 + 1 bias)
    full = on_meta(CDT2, CDT2Config.from_preset(PAPER, n_genes=9335))
    assert n_params(full) == 21_072_185 + (9335 - 2361) * 1025 == 28_220_535
    # single-stage CDT-III: VCE-N (3,677,696) and VCE-C (2,626,560) replaced by one 3-modality VCE with a
    # d x 3 fusion: 3 pools x (query 512 + 4 projections 262,656) + Linear(1536, 1536) + Linear(1536, 512) + LN
    single = on_meta(CDT3, CDT3Config.from_preset(PAPER, single_stage=True))
    vce = 3 * (512 + 4 * 262_656) + (1536 * 1536 + 1536) + (1536 * 512 + 512) + 2 * 512
    assert n_params(single) == 30_987_766 - 3_677_696 - 2_626_560 + vce


def test_cdt2_and_cdt3_native_keys_are_the_published_keys():
    for cls, cfg, name in (
        (CDT2, CDT2Config.from_preset(PAPER), "cdt2"),
        (CDT3, CDT3Config.from_preset(PAPER), "cdt3"),
    ):
        own = {k: list(v.shape) for k, v in on_meta(cls, cfg).state_dict().items()}
        ref = reference_keys(name)
        assert list(own) == list(ref)  # same names, same order
        assert own == ref  # same shapes


def test_nuclear_and_cytosolic_parameters_partition_cdt3():
    model = on_meta(CDT3, CDT3Config.from_preset(PAPER))
    nuclear, cytosolic = model.nuclear_parameters(), model.cytosolic_parameters()
    assert sum(p.numel() for p in nuclear) == 21_072_185  # the nuclear stage is exactly CDT-II
    assert sum(p.numel() for p in cytosolic) == 30_987_766 - 21_072_185
    assert not {id(p) for p in nuclear} & {id(p) for p in cytosolic}


# ---------------------------------------------------------------------------------------------------------------
# forward passes on the tiny preset


def tiny_batch(seed: int = 0, batch: int = 3, preset=TINY):
    g = torch.Generator().manual_seed(seed)
    dna = torch.randn(batch, preset.n_bins, preset.dna_dim, generator=g)
    rna = torch.rand(batch, preset.n_genes, generator=g) * 3
    protein = torch.randn(batch, preset.n_proteins, generator=g)
    return dna, rna, protein


def cdt1_batch(seed: int = 0, batch: int = 3, preset=TINY):
    g = torch.Generator().manual_seed(seed)
    cfg = CDT1Config.from_preset(preset)
    return (
        torch.randn(batch, cfg.n_bins, cfg.dna_dim, generator=g),
        torch.randn(cfg.n_genes, cfg.rna_emb_dim, generator=g),
        torch.randn(cfg.n_genes, cfg.prot_emb_dim, generator=g),
        torch.randint(0, cfg.n_genes, (batch,), generator=g),
    )


def tiny_models() -> dict[str, tuple[nn.Module, tuple]]:
    torch.manual_seed(0)
    dna, rna, protein = tiny_batch()
    return {
        "cdt1": (CDT1(CDT1Config.from_preset(TINY)).eval(), cdt1_batch()),
        "cdt2": (CDT2(CDT2Config.from_preset(TINY)).eval(), (dna, rna)),
        "cdt3": (CDT3(CDT3Config.from_preset(TINY)).eval(), (dna, rna, protein)),
        "cdt3_single": (CDT3(CDT3Config.from_preset(TINY, single_stage=True)).eval(), (dna, rna, protein)),
    }


def test_output_shapes():
    B, G, P, d = 3, TINY.n_genes, TINY.n_proteins, TINY.d_model
    models = tiny_models()
    with torch.no_grad():
        out = {k: m(*args) for k, (m, args) in models.items()}
    assert isinstance(out["cdt2"], ModelOutput)
    assert out["cdt2"].rna.shape == (B, G) and out["cdt2"].embedding.shape == (B, d)
    assert out["cdt2"].protein is None and out["cdt2"].attention is None
    for k in ("cdt3", "cdt3_single"):
        assert out[k].rna.shape == (B, G) and out[k].protein.shape == (B, P) and out[k].embedding.shape == (B, d)
    assert out["cdt3"].embedding_rna.shape == (B, d)
    v1 = out["cdt1"]
    target = models["cdt1"][1][3]
    assert v1.rna.shape == (B, TINY.v1_n_genes)
    assert torch.equal(v1.value, v1.rna[torch.arange(B), target])  # the output at each sample's target gene


def test_cdt1_target_index_selects_only_the_output():
    model, (dna, rna_emb, prot_emb, target) = tiny_models()["cdt1"]
    with torch.no_grad():
        a = model(dna, rna_emb, prot_emb, target)
        b = model(dna, rna_emb, prot_emb, (target + 1) % model.cfg.n_genes)
    assert torch.equal(a.rna, b.rna) and not torch.equal(a.value, b.value)


def test_bad_inputs_name_the_tensor():
    model, (dna, rna, protein) = tiny_models()["cdt3"]
    with pytest.raises(ValueError, match="'rna'.*expected \\[\\*, 64\\]"):
        model(dna, rna[:, :10], protein)
    with pytest.raises(ValueError, match="'protein'"):
        model(dna, rna, protein[:, :5])
    with pytest.raises(ValueError, match="'dna'"):
        model(dna[..., :3], rna, protein)
    with pytest.raises(ValueError, match="pass locus_index"):
        model(dna[:2], rna, protein)
    with pytest.raises(ValueError, match="locus_index values must lie in"):
        model(dna[:2], rna, protein, locus_index=torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="1-D long tensor"):
        model(dna[:2], rna, protein, locus_index=torch.tensor([0.0, 1.0, 1.0]))


def test_cdt1_rejects_target_index_outside_the_genes():
    model, (dna, rna_emb, prot_emb, target) = tiny_models()["cdt1"]
    with pytest.raises(ValueError, match="target_index values must lie in \\[0, 64\\)"):
        model(dna, rna_emb, prot_emb, target + model.cfg.n_genes)


def test_dropout_active_in_train_mode_only():
    model, (dna, rna, protein) = tiny_models()["cdt3"]
    with torch.no_grad():
        assert torch.equal(model(dna, rna, protein).rna, model(dna, rna, protein).rna)
        model.train()
        assert not torch.equal(model(dna, rna, protein).rna, model(dna, rna, protein).rna)


# ---------------------------------------------------------------------------------------------------------------
# attention capture


def brute_force(q_in: torch.Tensor, kv_in: torch.Tensor, module: nn.Module, prefix: str, n_heads: int) -> torch.Tensor:
    """softmax(Q K^T / sqrt(d_head)) per head, from the module's own projection weights."""
    if hasattr(module, f"{prefix}in_proj_weight"):
        wq, wk, _ = getattr(module, f"{prefix}in_proj_weight").chunk(3)
        bq, bk, _ = getattr(module, f"{prefix}in_proj_bias").chunk(3)
        q, k = q_in @ wq.T + bq, kv_in @ wk.T + bk
    else:
        q, k = getattr(module, f"{prefix}q_proj")(q_in), getattr(module, f"{prefix}k_proj")(kv_in)
    B, Q, d = q.shape
    hd = d // n_heads
    q = q.reshape(B, Q, n_heads, hd).permute(0, 2, 1, 3)
    k = k.reshape(B, kv_in.shape[1], n_heads, hd).permute(0, 2, 1, 3)
    return torch.softmax(torch.einsum("bhqe,bhke->bhqk", q, k) / math.sqrt(hd), dim=-1)


ATTENTION_MODULES = {  # map name -> attention block attribute path
    "dna_self_0": "dna_self_attn_layers.0",
    "dna_self_1": "dna_self_attn_layers.1",
    "rna_self_0": "rna_self_attn_layers.0",
    "protein_self_0": "protein_self_attn_layers.0",
    "dna_to_rna": "dna_to_rna",
    "rna_to_protein": "rna_to_protein",
}


@pytest.mark.parametrize("name", ["cdt1", "cdt2", "cdt3", "cdt3_single"])
def test_attention_capture_matches_brute_force_and_leaves_output_unchanged(name):
    model, args = tiny_models()[name]
    block_inputs: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}  # block path -> (queries, keys/values)
    pooled: dict[str, tuple[VirtualCellEmbedder, torch.Tensor]] = {}  # "vce_<modality>" -> (VCE, pooled sequence)
    hooks = [
        model.get_submodule(path).register_forward_hook(
            lambda m, a, o, p=path: block_inputs.__setitem__(p, (a[0], a[1] if len(a) > 1 else a[0]))
        )
        for path in ATTENTION_MODULES.values()
        if hasattr(model, path.split(".")[0])
    ]
    for vce in (m for m in model.modules() if isinstance(m, VirtualCellEmbedder)):

        def spy(modality, seq, need_weights=False, vce=vce, pool=vce.pool):
            pooled[f"vce_{modality}"] = (vce, seq)
            return pool(modality, seq, need_weights)

        vce.pool = spy
    with torch.no_grad():
        plain = model(*args)
        out = model(*args, return_attention=True)
    for h in hooks:
        h.remove()

    # the output does not change when attention is requested
    for field in ("rna", "protein", "value", "embedding"):
        a, b = getattr(plain, field), getattr(out, field)
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)

    attn = out.attention
    expected = {"dna_self_0", "dna_self_1", "rna_self_0", "dna_to_rna", "vce_dna", "vce_rna"}
    if name != "cdt2":
        expected |= {"protein_self_0", "rna_to_protein", "vce_protein"}
    assert set(attn) == expected
    for w in attn.values():
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))  # rows sum to 1
    for k, path in ATTENTION_MODULES.items():
        if k in attn:
            block = model.get_submodule(path)
            torch.testing.assert_close(attn[k], brute_force(*block_inputs[path], block, "", block.n_heads))
    for k in ("vce_dna", "vce_rna", "vce_protein"):
        if k in attn:
            vce, seq = pooled[k]
            modality = k.removeprefix("vce_")
            query = getattr(vce, f"{modality}_query").expand(seq.shape[0], -1, -1)
            torch.testing.assert_close(attn[k], brute_force(query, seq, vce, f"{modality}_", vce.n_heads))
    assert attn["vce_dna"].shape == (3, model.cfg.pool_heads, 1, model.cfg.n_bins)


@pytest.mark.parametrize("name", ["cdt1", "cdt2", "cdt3", "cdt3_single"])
def test_selected_attention_maps_equal_the_full_capture(name):
    model, args = tiny_models()[name]
    with torch.no_grad():
        full = model(*args, return_attention=True)
        some = model(*args, return_attention=["dna_self_1", "dna_to_rna"])
        none = model(*args, return_attention=[])
    assert set(some.attention) == {"dna_self_1", "dna_to_rna"} and none.attention is None
    for k, w in some.attention.items():
        torch.testing.assert_close(w, full.attention[k], rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(some.rna, full.rna, rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match=r"\['rna_self_9'\] are not produced by this model; available: .*dna_self_0"):
        model(*args, return_attention=["rna_self_9"])
    with pytest.raises(TypeError, match="list of map names"):
        model(*args, return_attention="dna_to_rna")


def test_attention_shapes_cdt3():
    model, args = tiny_models()["cdt3"]
    with torch.no_grad():
        attn = model(*args, return_attention=True).attention
    B, H, L, G, P = 3, TINY.n_heads, TINY.n_bins, TINY.n_genes, TINY.n_proteins
    assert attn["dna_self_1"].shape == (B, H, L, L)
    assert attn["rna_self_0"].shape == (B, H, G, G)
    assert attn["dna_to_rna"].shape == (B, H, G, L)
    assert attn["protein_self_0"].shape == (B, H, P, P)
    assert attn["rna_to_protein"].shape == (B, H, P, G)
    assert attn["vce_protein"].shape == (B, TINY.pool_heads, 1, P)


# ---------------------------------------------------------------------------------------------------------------
# DNA once per locus


@pytest.mark.parametrize(
    ("name", "preset"),
    [("cdt2", TINY), ("cdt3", TINY), ("cdt3_single", TINY), ("cdt3", MINI)],
    ids=["cdt2-tiny", "cdt3-tiny", "cdt3_single-tiny", "cdt3-mini"],
)
def test_per_locus_dna_equals_per_cell_dna_exactly(name, preset):
    torch.manual_seed(1)
    model = {
        "cdt2": lambda: CDT2(CDT2Config.from_preset(preset)),
        "cdt3": lambda: CDT3(CDT3Config.from_preset(preset)),
        "cdt3_single": lambda: CDT3(CDT3Config.from_preset(preset, single_stage=True)),
    }[name]().eval()
    index = torch.tensor([2, 0, 2, 1, 1, 2])
    dna_loci, rna, protein = tiny_batch(seed=5, batch=3, preset=preset)
    _, rna, protein = tiny_batch(seed=6, batch=len(index), preset=preset)
    extra = () if name == "cdt2" else (protein,)
    with torch.no_grad():
        per_locus = model(dna_loci, rna, *extra, locus_index=index, return_attention=True)
        per_cell = model(dna_loci[index], rna, *extra, return_attention=True)
        fast = model(dna_loci, rna, *extra, locus_index=index)
    assert torch.equal(per_locus.rna, per_cell.rna)
    assert torch.equal(fast.rna, model(dna_loci[index], rna, *extra).rna)
    assert torch.equal(per_locus.embedding, per_cell.embedding)
    if name != "cdt2":
        assert torch.equal(per_locus.protein, per_cell.protein)
    for k in per_cell.attention:
        assert torch.equal(per_locus.attention[k], per_cell.attention[k]), k


# ---------------------------------------------------------------------------------------------------------------
# training step on the mini preset


@pytest.mark.parametrize("name", ["cdt1", "cdt2", "cdt3", "cdt3_single"])
def test_forward_backward_mini_reaches_every_parameter(name):
    torch.manual_seed(0)
    B = 2
    if name == "cdt1":
        model = CDT1(CDT1Config.from_preset(MINI))
        dna, rna_emb, prot_emb, target = cdt1_batch(batch=B, preset=MINI)
        out = model(dna, rna_emb, prot_emb, target)
        loss = nn.functional.huber_loss(out.value, torch.zeros(B))
    else:
        dna, rna, protein = tiny_batch(batch=B, preset=MINI)
        if name == "cdt2":
            model = CDT2(CDT2Config.from_preset(MINI))
            out = model(dna, rna)
            loss = out.rna.pow(2).mean()
        else:
            model = CDT3(CDT3Config.from_preset(MINI, single_stage=name == "cdt3_single"))
            out = model(dna, rna, protein)
            loss = out.rna.pow(2).mean() + 0.1 * out.protein.pow(2).mean()
    model.train()
    loss.backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing
    assert all(p.grad.abs().sum() > 0 for n, p in model.named_parameters() if "task_layer" in n)


# ---------------------------------------------------------------------------------------------------------------
# read-outs


def test_module_summary_and_schematic_show_real_shapes_and_counts():
    models = build_models(PAPER)
    assert set(models) == {"CDT v1", "CDT-II", "CDT-II full gene set (9,335 genes)", "CDT-III", "CDT-III single-stage"}
    rows = {r.name: r for r in module_summary(models["CDT-III"])}
    assert sum(r.n_params for r in rows.values()) == 30_987_766
    assert rows["dna_to_rna"].inputs == [(None, 2361, 512), (None, 896, 512)]
    assert rows["rna_to_protein"].output == (None, 189, 512)
    assert rows["vce_p"].n_params == 2_626_560 and rows["vce_t"].n_params == 3_677_696
    assert shape_str(rows["rna_encoder"].output) == "B x 2,361 x 512"
    v1 = {r.name: r for r in module_summary(models["CDT v1"])}
    assert v1["protein_projection"].output == (2360, 768)  # projected once, shared by the batch
    fig = draw_schematic(models["CDT-III"], title="CDT-III")
    texts = [t.get_text() for t in fig.axes[0].texts]
    title = fig.axes[0].get_title()
    plt.close(fig)
    assert title == "CDT-III: 30,987,766 parameters"
    assert any("B × 189 × 512  |  3,152,384 parameters" in t for t in texts)
    assert "VCE-C (cytosolic stage)" in texts and not any("_" in t for t in texts)  # block names in words


def test_cli_models_prints_every_model():
    from cdt.cli import app
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["models", "--preset", "tiny"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    for title in ("CDT v1 (tiny)", "CDT-II (tiny)", "CDT-III (tiny)", "CDT-III single-stage (tiny)"):
        assert title in result.output
    tiny_cdt3 = n_params(CDT3(CDT3Config.from_preset(TINY)))
    assert f"{tiny_cdt3:,} parameters" in result.output
