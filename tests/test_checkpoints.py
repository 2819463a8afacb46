"""Checkpoints: published CDT-II/III files load strictly, CDT-II -> CDT-III transfer, our format, unsafe files."""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from cdt.config import get_preset
from cdt.models import CDT1, CDT2, CDT3, CDT1Config, CDT2Config, CDT3Config
from cdt.models.cdt3 import NUCLEAR_PREFIXES
from cdt.models.checkpoints import (
    CheckpointError,
    cdt2_to_cdt3_key,
    check_state_dict,
    load_checkpoint,
    load_published_cdt2,
    load_published_cdt3,
    read_torch_file,
    save_checkpoint,
    transfer_cdt2_to_cdt3,
)

torch.set_num_threads(2)
REFERENCE = Path(__file__).parent / "data"  # the authors' published tables (tests/data/README.md)
TINY = get_preset("tiny")


def listing(name: str) -> dict[str, list[int]]:
    path = REFERENCE / f"checkpoint_keys_{name}.json"
    sd = json.loads(path.read_text())["state_dict"]
    return sd if isinstance(sd, dict) else dict(sd)


def random_state(shapes: dict[str, list[int]], seed: int = 0) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return {k: torch.randn(*s, generator=g) for k, s in shapes.items()}


def tiny_inputs(batch: int = 3, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randn(batch, TINY.n_bins, TINY.dna_dim, generator=g),
        torch.rand(batch, TINY.n_genes, generator=g),
        torch.randn(batch, TINY.n_proteins, generator=g),
    )


# ---------------------------------------------------------------------------------------------------------------
# the published files


def test_published_cdt2_state_dict_loads_strictly(tmp_path):
    state = random_state(listing("cdt2"))
    path = tmp_path / "cdt_morris_celllevel_best.pt"
    torch.save(state, path)  # a bare state_dict, as published
    model, meta = load_published_cdt2(path)
    assert meta == {}
    assert model.cfg.n_genes == 2361 and model.cfg.dna_dim == 3072 and model.cfg.d_model == 512
    assert not model.training
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_published_cdt3_checkpoint_loads_strictly_with_its_metadata(tmp_path):
    state = random_state(listing("cdt3"), seed=1)
    mask = np.zeros(189, bool)
    mask[:65] = True
    path = tmp_path / "cdt_2stage_vce_best.pt"
    torch.save(
        {
            "model_state_dict": state,
            "expressed_mask": mask,
            "epoch": 12,
            "phase": 2,
            "model_config": {"n_genes": 2361, "n_proteins": 189, "hidden_dim": 512, "nhead": 8},
        },
        path,
    )
    model, meta = load_published_cdt3(path)
    assert model.cfg.n_proteins == 189 and not model.cfg.single_stage
    assert meta["epoch"] == 12 and meta["expressed_mask"].sum() == 65
    loaded = model.state_dict()
    assert all(torch.equal(loaded[k], v) for k, v in state.items())


def test_numpy_arrays_pickled_under_numpy1_names_load(tmp_path):
    """Files written with numpy 1.x name `numpy.core.multiarray._reconstruct`; they must still load."""
    buf = io.BytesIO()
    torch.save({"model_state_dict": {"w": torch.ones(2)}, "expressed_mask": np.array([True, False])}, buf)
    src = zipfile.ZipFile(io.BytesIO(buf.getvalue()))
    path = tmp_path / "numpy1.pt"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename.endswith("data.pkl"):
                assert b"numpy._core.multiarray" in data
                data = data.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
            out.writestr(item, data)
    obj = read_torch_file(path)
    assert obj["expressed_mask"].tolist() == [True, False]


def test_strict_loading_lists_missing_unexpected_and_mismatched():
    model = CDT2(CDT2Config.from_preset(TINY))
    state = dict(model.state_dict())
    del state["vce.rna_query"]
    state["vce.extra_weight"] = torch.zeros(3)
    state["task_layer.3.bias"] = torch.zeros(7)
    with pytest.raises(CheckpointError) as err:
        check_state_dict(model, state, "model.pt")
    msg = str(err.value)
    assert msg.startswith("model.pt: state_dict: does not fit CDT2")
    assert "missing keys (1): vce.rna_query" in msg
    assert "unexpected keys (1): vce.extra_weight" in msg
    assert f"task_layer.3.bias: file [7] vs model [{TINY.n_genes}]" in msg


def test_published_cdt2_with_a_renamed_key_is_refused(tmp_path):
    model = CDT2(CDT2Config.from_preset(TINY))
    state = {k.replace("gene_embedding", "feature_embedding"): v for k, v in model.state_dict().items()}
    torch.save(state, tmp_path / "w.pt")
    with pytest.raises(CheckpointError, match="missing keys \\(1\\): rna_encoder.gene_embedding.weight"):
        load_published_cdt2(tmp_path / "w.pt", CDT2Config.from_preset(TINY))


# ---------------------------------------------------------------------------------------------------------------
# CDT-II -> CDT-III


def test_transfer_key_mapping_covers_the_published_nuclear_stage():
    cdt2, cdt3 = listing("cdt2"), listing("cdt3")
    mapped = {cdt2_to_cdt3_key(k): s for k, s in cdt2.items()}
    nuclear = {k: s for k, s in cdt3.items() if k.startswith(NUCLEAR_PREFIXES)}
    assert mapped == nuclear  # every CDT-II tensor has a CDT-III home of the same shape, and vice versa
    assert cdt2_to_cdt3_key("rna_encoder.gene_embedding.weight") == "rna_encoder.feature_embedding.weight"
    assert cdt2_to_cdt3_key("task_layer.3.bias") == "rna_task_layer.3.bias"
    assert cdt2_to_cdt3_key("vce.fusion.0.weight") == "vce_t.fusion.0.weight"


def test_transfer_copies_every_nuclear_tensor_and_reproduces_cdt2():
    torch.manual_seed(0)
    cdt2 = CDT2(CDT2Config.from_preset(TINY)).eval()
    torch.manual_seed(1)
    cdt3 = CDT3(CDT3Config.from_preset(TINY)).eval()
    cytosolic_before = {k: v.clone() for k, v in cdt3.state_dict().items() if not k.startswith(NUCLEAR_PREFIXES)}
    report = transfer_cdt2_to_cdt3(cdt2, cdt3)
    assert not report.skipped and len(report.copied) == len(cdt2.state_dict())
    src, dst = cdt2.state_dict(), cdt3.state_dict()
    for a, b in report.copied:
        assert torch.equal(src[a], dst[b])
    assert {b for _, b in report.copied} == {k for k in dst if k.startswith(NUCLEAR_PREFIXES)}
    assert all(torch.equal(dst[k], v) for k, v in cytosolic_before.items())  # the protein path is untouched
    dna, rna, protein = tiny_inputs()
    with torch.no_grad():
        a, b = cdt2(dna, rna), cdt3(dna, rna, protein)
    assert torch.equal(a.rna, b.rna) and torch.equal(a.embedding, b.embedding_rna)  # nuclear stage = CDT-II


def test_transfer_into_single_stage_skips_only_the_fusion(tmp_path):
    cdt2 = CDT2(CDT2Config.from_preset(TINY))
    torch.save(cdt2.state_dict(), tmp_path / "cdt2.pt")
    single = CDT3(CDT3Config.from_preset(TINY, single_stage=True))
    report = transfer_cdt2_to_cdt3(tmp_path / "cdt2.pt", single)
    assert sorted(k for k, _ in report.skipped) == sorted(k for k in cdt2.state_dict() if k.startswith("vce.fusion."))
    assert torch.equal(single.vce.dna_q_proj.weight, cdt2.vce.dna_q_proj.weight)
    assert "d x 3" in str(report)


# ---------------------------------------------------------------------------------------------------------------
# our own checkpoints


@pytest.mark.parametrize("name", ["cdt1", "cdt2", "cdt3", "cdt3_single"])
def test_save_load_round_trip(tmp_path, name):
    torch.manual_seed(0)
    model = {
        "cdt1": lambda: CDT1(CDT1Config.from_preset(TINY)),
        "cdt2": lambda: CDT2(CDT2Config.from_preset(TINY)),
        "cdt3": lambda: CDT3(CDT3Config.from_preset(TINY)),
        "cdt3_single": lambda: CDT3(CDT3Config.from_preset(TINY, single_stage=True)),
    }[name]()
    extra = {
        "epoch": 7,
        "history": {"val_r": [0.1, 0.2]},
        "expressed": np.arange(4) % 2 == 0,
        "ntc": torch.ones(3),
        "genes": ["A", "B"],
    }
    path = save_checkpoint(tmp_path / "run" / "best.pt", model, extra)
    assert [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temporary files left behind
    loaded, got = load_checkpoint(path)
    assert type(loaded) is type(model) and loaded.cfg == model.cfg and not loaded.training
    assert got["epoch"] == 7 and got["history"] == {"val_r": [0.1, 0.2]} and got["genes"] == ["A", "B"]
    assert np.array_equal(got["expressed"], extra["expressed"]) and torch.equal(got["ntc"], extra["ntc"])
    own = model.state_dict()
    assert all(torch.equal(v, own[k]) for k, v in loaded.state_dict().items())


def test_save_refuses_extra_that_cannot_be_read_back_and_keeps_the_old_file(tmp_path):
    model = CDT2(CDT2Config.from_preset(TINY))
    path = save_checkpoint(tmp_path / "best.pt", model, {"epoch": 1})
    before = path.read_bytes()
    with pytest.raises(ValueError, match="cannot be read back safely"):
        save_checkpoint(path, model, {"object": object()})
    assert path.read_bytes() == before
    assert load_checkpoint(path)[1] == {"epoch": 1}


def test_load_checkpoint_rejects_other_formats_and_bad_configs(tmp_path):
    model = CDT2(CDT2Config.from_preset(TINY))
    torch.save(model.state_dict(), tmp_path / "bare.pt")
    with pytest.raises(CheckpointError, match="not a cdt-checkpoint file"):
        load_checkpoint(tmp_path / "bare.pt")
    path = save_checkpoint(tmp_path / "ours.pt", model)
    payload = torch.load(path, weights_only=True)
    payload["config"]["n_layers_typo"] = 3
    torch.save(payload, tmp_path / "bad_config.pt")
    with pytest.raises(CheckpointError, match="config: does not match CDT2Config.*unexpected \\['n_layers_typo'\\]"):
        load_checkpoint(tmp_path / "bad_config.pt")
    payload["config"].pop("n_layers_typo")
    payload["model"] = "GPT2"
    torch.save(payload, tmp_path / "bad_model.pt")
    with pytest.raises(CheckpointError, match="model: 'GPT2' is not one of CDT1, CDT2, CDT3"):
        load_checkpoint(tmp_path / "bad_model.pt")
    payload["model"] = "CDT2"
    payload["config"]["n_genes"] += 1  # config and weights disagree
    torch.save(payload, tmp_path / "mismatch.pt")
    with pytest.raises(CheckpointError, match="shape mismatches"):
        load_checkpoint(tmp_path / "mismatch.pt")


# ---------------------------------------------------------------------------------------------------------------
# unsafe and malformed files


class Payload:
    """Unpickling this would create the marker file: proof of code execution."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_pickle_payload_in_a_torch_checkpoint_is_refused_without_running(tmp_path):
    marker = tmp_path / "executed"
    path = tmp_path / "tampered.pt"
    state = CDT2(CDT2Config.from_preset(TINY)).state_dict()
    torch.save({**state, "task_layer.3.bias": Payload(marker)}, path)
    for load in (read_torch_file, load_published_cdt2, load_checkpoint):
        with pytest.raises(CheckpointError, match=r"weights-only loader \(Unsupported global: GLOBAL io"):
            load(path)
    assert not marker.exists()


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_plain_pickle_payload_is_refused_without_running(tmp_path, protocol):
    marker = tmp_path / "executed"
    path = tmp_path / "legacy.pt"
    path.write_bytes(pickle.dumps({"w": Payload(marker)}, protocol=protocol))
    with pytest.raises(
        CheckpointError, match="legacy.pt: pickle: refused by the weights-only loader.*nothing in it was executed"
    ):
        load_published_cdt3(path)
    assert not marker.exists()


def test_malformed_files_give_clear_errors(tmp_path):
    with pytest.raises(CheckpointError, match="missing.pt: file: does not exist"):
        load_published_cdt2(tmp_path / "missing.pt")
    (tmp_path / "noise.pt").write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(CheckpointError, match="noise.pt: (file|pickle)"):
        load_published_cdt2(tmp_path / "noise.pt")
    buf = io.BytesIO()
    torch.save(CDT2(CDT2Config.from_preset(TINY)).state_dict(), buf)
    (tmp_path / "truncated.pt").write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    with pytest.raises(CheckpointError, match="truncated.pt: file: not a readable torch checkpoint"):
        load_published_cdt2(tmp_path / "truncated.pt")
    torch.save(torch.zeros(3), tmp_path / "tensor.pt")
    with pytest.raises(CheckpointError, match="top level: expected a dict, found Tensor"):
        load_published_cdt2(tmp_path / "tensor.pt")
    torch.save({"weight": torch.zeros(3), "note": "hello"}, tmp_path / "mixed.pt")
    with pytest.raises(CheckpointError, match="1 entries are not name -> tensor pairs"):
        load_published_cdt2(tmp_path / "mixed.pt")
