"""The benchmarks' own correctness: the reference model computes CDT-II's function, the reproduction timer reads the
report the reproduction writes, and the training-step benchmark runs end to end in its quick mode."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from cdt.config import get_preset
from cdt.models import CDT2, CDT2Config
from cdt.report import write_report

BENCH = Path(__file__).resolve().parents[1] / "bench"
sys.path.insert(0, str(BENCH))

from reference import ReferenceCDT2, ReferenceTrainer, reference_maps  # noqa: E402
from reproduce_time import STAGE, group_times, log_stage_times, read_stage_times  # noqa: E402


def test_reference_matches_cdt2_per_locus_input():
    torch.manual_seed(0)
    model = CDT2(CDT2Config.from_preset(get_preset("tiny"))).eval()
    ref = ReferenceCDT2(model).eval()
    dna = torch.randn(2, model.cfg.n_bins, model.cfg.dna_dim)  # 2 distinct loci
    rna = torch.rand(5, model.cfg.n_genes)
    locus_index = torch.tensor([0, 1, 1, 0, 1])
    with torch.no_grad():
        ours = model(dna, rna, locus_index=locus_index, return_attention=True)
        pred = ref(dna[locus_index], rna)  # each cell's DNA window
    maps = reference_maps(model, dna[locus_index], rna)
    torch.testing.assert_close(pred, ours.rna, atol=1e-5, rtol=1e-5)
    assert maps.keys() == ours.attention.keys()
    for name, w in maps.items():
        torch.testing.assert_close(w, ours.attention[name], atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(w.sum(-1), torch.ones(w.shape[:-1]))


def test_reference_trains_the_copied_weights_only():
    model = CDT2(CDT2Config.from_preset(get_preset("tiny")))
    ref = ReferenceCDT2(model)
    torch.testing.assert_close(ref.net.task_layer[3].bias, model.task_layer[3].bias)
    before = model.task_layer[3].bias.detach().clone()
    with torch.no_grad():
        ref.net.task_layer[3].bias.add_(1.0)
    assert not any(p is q for p in ref.parameters() for q in model.parameters())
    torch.testing.assert_close(model.task_layer[3].bias.detach(), before)


def test_reference_step_clips_and_updates_like_adamw():
    torch.manual_seed(0)
    model = CDT2(CDT2Config.from_preset(get_preset("tiny")))
    trainer = ReferenceTrainer(ReferenceCDT2(model), lr=1e-2)
    dna = torch.randn(3, model.cfg.n_bins, model.cfg.dna_dim)
    rna, target = torch.rand(3, model.cfg.n_genes), 10 * torch.randn(3, model.cfg.n_genes)
    before = trainer.model.net.task_layer[3].bias.detach().clone()
    trainer.step(dna, rna, target)
    grads = [p.grad for p in trainer.model.parameters() if p.grad is not None]
    assert torch.linalg.vector_norm(torch.stack([torch.linalg.vector_norm(g) for g in grads])) <= 1.0 + 1e-5
    step = trainer.model.net.task_layer[3].bias.detach() - before
    # the first AdamW step moves every element by lr (times sign of its gradient, weight decay aside)
    torch.testing.assert_close(step.abs(), torch.full_like(step, 1e-2), atol=2e-4, rtol=0)


def test_reproduce_time_reads_the_reports_stage_table(tmp_path):
    timings = {"data": 61.25, "train cdt2": 120.0, "01_ablation": 33.5, "total": 214.75}
    write_report(tmp_path, {"data": "synthetic (mini, seed 0)", "preset": "mini"}, timings)
    preset, times = read_stage_times(tmp_path / "REPORT.md")
    assert preset == "mini"
    assert times == pytest.approx({"data": 61.2, "train cdt2": 120.0, "01_ablation": 33.5, "total": 214.8}, abs=0.051)


def test_reproduce_time_counts_side_by_side_stages_by_their_wall_time():
    sequential = {"data": 10.0, "train cdt2": 100.0, "train cdt1": 50.0, "01_ablation": 30.0, "02_prediction": 20.0}
    assert group_times(sequential) == {"data": 10.0, "training": 150.0, "notebooks": 50.0}
    side_by_side = {**sequential, "training": 110.0, "notebooks": 35.0}
    assert group_times(side_by_side) == {"data": 10.0, "training": 110.0, "notebooks": 35.0}


def test_reproduce_time_names_a_report_without_timings(tmp_path):
    write_report(tmp_path, {"data": "synthetic (tiny, seed 0)", "preset": "tiny"})
    with pytest.raises(ValueError, match="REPORT.md: no '## Wall time by stage' section"):
        read_stage_times(tmp_path / "REPORT.md")


def test_reproduce_time_stage_markers_of_the_log():
    lines = [
        "reusing simulated data in /x",
        "train cdt2 (cdt2, curated, protocol paper)",
        "cdt2 mini: 100%|####| 20/20 [00:10<00:00]",
        "notebook 1/2 01_ablation.py",
        "report: /x/REPORT.md",
    ]
    found = [(m["train"], m["notebook"]) for m in map(STAGE.match, lines) if m]
    assert found == [("cdt2", None), (None, "01_ablation")]
    stages = log_stage_times([("data", 0.0), ("train cdt2", 4.0), ("01_ablation", 10.0)], end=12.5)
    assert stages == {"data": 4.0, "train cdt2": 6.0, "01_ablation": 2.5}


def test_train_step_quick_runs():
    out = subprocess.run(
        [sys.executable, str(BENCH / "train_step.py"), "--quick", "--threads", "1"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    last = out.stdout.strip().splitlines()[-1]
    assert re.fullmatch(r"speedup \d+\.\d\dx \(reference \d+\.\d+ s/step, ours \d+\.\d+ s/step\)", last), last
