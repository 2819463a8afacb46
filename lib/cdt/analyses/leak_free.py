"""The leak-free test: CDT trained on inputs that do not contain the answer, beside the papers' set-up and baselines.

Under the papers' set-up (input protocol ``cell``) a cell's target is an affine map of its own RNA input, so a
model can score well, and has no reason to use the DNA, by passing its input through. Under ``control`` the model
sees a random NTC cell's RNA and protein instead and can learn which perturbation happened only from the DNA of
the perturbed locus. This module sets runs of the same model under each protocol side by side:

- `prediction_table`: held-out per-cell and pseudo-bulk r of each run beside the mean training effect, the
  DNA-only ridge and the nearest training locus (which never see the input) and the ridge on the input;
- `attention_readouts`: the attention claims of the papers scored against the simulator's planted truth, each
  computed on the inputs the run was evaluated on (`cdt.train.data.protocol_inputs`);
- `positive_controls`: the same truth recovered by methods that should recover it (observed knockdown effects
  against the planted targets; a cross-validated logistic read-out of the DNA embeddings against planted elements);
- `cell_eval_pair`: predictions and observations as AnnData in the layout of the Virtual Cell Challenge's
  `cell-eval` (log-normalised expression, a perturbation column, control cells under one label), and
  `cell_eval_scores` to score them with it when the optional `celleval` extra is installed;
- `seed_spread`: mean and range of every number over seeds; `leak_free_runs` trains what a seed needs and
  `seed_tables` computes every table of one seed.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anndata as ad
import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cdt import hic
from cdt.analyses.baselines import gene_truths, pooled_map, prediction_comparison
from cdt.analyses.genome import (
    bin_scores,
    ctcf_table,
    element_recovery,
    element_truth,
    fisher_summary,
    fisher_table,
    hic_ratios,
    loci_of,
    locus_profiles,
    mark_hits,
    read_marks,
    tss_loci,
)
from cdt.analyses.network import gene_scores, overlap_table, scaled_n
from cdt.attention import mean_attention_maps
from cdt.baselines import auroc_auprc, recovery_table
from cdt.data.dnastore import DNAStore
from cdt.data.screen import read_screen
from cdt.train import DataFiles, TrainConfig, load_run, train
from cdt.train.data import protocol_inputs, split_roles
from cdt.train.jobs import job_pool, side_by_side

PREDICTION_METHODS: dict[str, str] = {
    "mean": "mean training effect",
    "ridge_dna": "ridge: DNA only",
    "nearest_locus": "nearest locus (DNA)",
    "ridge": "ridge: input expression + DNA",
}
"""Baselines set beside the runs; the first three never see a cell's input, the last reads it."""

HUB = "GFI1B"
"""The gene whose attention row the papers compare with its knockdown's top targets."""


def run_label(run: Any) -> str:
    """'CDT-II, control' etc.: the model and the input protocol of a run."""
    name = {"cdt2": "CDT-II", "cdt3": "CDT-III", "cdt3-single": "CDT-III single-stage"}[run.config.model]
    return f"{name}, {run.config.input_protocol}"


def run_inputs(run: Any, screen: ad.AnnData) -> ad.AnnData:
    """The screen with the inputs this run was evaluated on (targets unchanged)."""
    return protocol_inputs(screen, run.config.input_protocol, seed=run.config.seed)


# --- prediction -------------------------------------------------------------------------------------------------------


def prediction_table(
    screen: ad.AnnData, dna: str | os.PathLike, runs: Mapping[str, Any], alphas: Sequence[float] = (0.1, 10.0, 1000.0)
) -> pd.DataFrame:
    """Held-out (reported test cells) r and pseudo-bulk r of every run and of the baselines fitted on its training
    cells: columns model, input_protocol, target, method, r, pb_r. Baselines appear once per model and target."""
    comp = prediction_comparison(screen, dna, runs, {k: (r.config.protocol,) for k, r in runs.items()}, alphas)
    s = comp.summary[comp.summary["role"] == "test"]
    rows, seen = [], set()
    for label, run in runs.items():
        model = label.split(",")[0]
        for row in s[s["model"] == label].itertuples(index=False):
            if row.method == label:
                rows.append((model, run.config.input_protocol, row.target, "CDT", row.r, row.pb_r))
            elif row.method in PREDICTION_METHODS and (model, row.target, row.method) not in seen:
                seen.add((model, row.target, row.method))
                rows.append((model, "-", row.target, PREDICTION_METHODS[row.method], row.r, row.pb_r))
    table = pd.DataFrame(rows, columns=["model", "input_protocol", "target", "method", "r", "pb_r"])
    order = table["method"] != "CDT"  # each model's runs first, then its baselines
    table = table.assign(_b=order).sort_values(["model", "target", "_b"], kind="stable")
    return table.drop(columns="_b").reset_index(drop=True)


# --- attention read-outs against the planted truth ---------------------------------------------------------------------


def attention_readouts(
    run: Any,
    screen: ad.AnnData,
    dna: str | os.PathLike,
    truth_dir: str | os.PathLike,
    *,
    encode_dir: str | os.PathLike | None = None,
    hic_path: str | os.PathLike | None = None,
    n_cells: int = 10,
    top_fraction: float = 0.10,
    seed: int = 0,
) -> pd.DataFrame:
    """The papers' attention claims for one run, against the simulator's truth: columns claim, value, reference,
    reference_value (the chance level or a model-free score to read the value against).

    DNA claims use the cross-attention profile of each TSS locus (first `n_cells` cells); gene claims the cell-mean
    RNA self-attention of the first `n_cells` cells of each perturbed gene. Observed effects (GFI1B's top targets)
    come from the screen itself, never from the protocol's inputs.
    """
    view = run_inputs(run, screen)
    elements = pd.read_csv(Path(truth_dir) / "elements.csv")
    loci = [k for k in tss_loci(screen, dna) if k in set(elements["locus_id"].astype(str))]
    prof = locus_profiles(run.model, view, dna, loci, n_cells=n_cells)
    with DNAStore(dna) as store:
        n_bins, stack = store.n_bins, store.stack(loci)
    rec = element_recovery(
        bin_scores({"attention": prof.values.to_numpy()}, stack, seed),
        element_truth(elements, loci, n_bins),
        top_fraction,
    ).set_index(["method", "target"])
    rows = [
        ("planted-element AUROC (any element)", rec.loc[("attention", "any element"), "auroc"], "random bins", 0.5),
        (
            f"planted-element top-{top_fraction:.0%} fold",
            rec.loc[("attention", "any element"), "top_fold"],
            "random bins",
            1.0,
        ),
        (
            "planted-element AUROC, DNA embedding norm (no model)",
            rec.loc[("embedding_norm", "any element"), "auroc"],
            "random bins",
            0.5,
        ),
    ]
    locus = loci_of(dna, loci)
    if encode_dir is not None:
        marks = read_marks(encode_dir)
        table, _ = ctcf_table(prof.as_dict(), locus, marks["CTCF"], top_fraction)
        with_ctcf = table[table["n_ctcf"] > 0]
        rows.append(
            ("CTCF enrichment of top bins (mean over loci)", with_ctcf["enrichment"].mean(), "random bins", 1.0)
        )
        fisher = fisher_summary(fisher_table(prof.as_dict(), mark_hits(locus, marks), top_fraction))
        rows.append(
            (
                "ENCODE marks: top-bin Fisher tests with P < 0.001 (share of testable)",
                fisher["n_significant"] / max(1, fisher["n_testable"]),
                "expected under no enrichment",
                0.001,
            )
        )
    if hic_path is not None:
        contacts = hic.HiC(hic_path)
        ratios = hic_ratios(contacts, prof.as_dict(), locus, k=max(1, int(top_fraction * n_bins)), seed=seed)
        rows.append(
            (
                "Hi-C contact of top bins / random bins (off the promoter's own bin, median)",
                ratios["ratio_off_diagonal"].median(),
                "random bins",
                1.0,
            )
        )
    genes = screen.var_names.astype(str).tolist()
    obs = screen.obs
    targets = sorted(set(obs.loc[obs["kind"].astype(str) == "TSS", "perturbation"].astype(str)) & set(genes))
    first = np.concatenate([np.flatnonzero(obs["perturbation"].astype(str).to_numpy() == g)[:n_cells] for g in targets])
    maps = mean_attention_maps(
        run.model, view, dna, cells=first, maps=["rna_self_0"], heads=False, by="perturbation", splits=None
    )
    truth = gene_truths(truth_dir, genes)
    attn = pooled_map(maps, "rna_self_0")
    net = recovery_table({"attention": attn}, {"network_undirected": truth["network_undirected"]})
    rows.append(("planted network AUROC (RNA self-attention, undirected)", net["auroc"].iloc[0], "random pairs", 0.5))
    if HUB in maps:
        edges = pd.read_csv(Path(truth_dir) / "network_edges.csv")
        n = scaled_n(len(genes))
        overlap = overlap_table(gene_scores(maps[HUB]["rna_self_0"], screen, HUB, edges), n).set_index("method")
        rows.append(
            (
                f"{HUB} attention top-{n} vs knockdown top-{n}: fold over chance",
                overlap.loc["attention_down", "fold"],
                "random genes",
                1.0,
            )
        )
        if "true_target_share" in overlap:
            rows.append(
                (
                    f"{HUB} attention top-{n}: share that are planted targets",
                    overlap.loc["attention_down", "true_target_share"],
                    "share among all genes",
                    overlap.loc["attention_down", "true_target_base"],
                )
            )
    return pd.DataFrame(rows, columns=["claim", "value", "reference", "reference_value"])


# --- positive controls ---------------------------------------------------------------------------------------------------


def observed_effect_auroc(screen: ad.AnnData, truth_dir: str | os.PathLike, min_cells: int = 2) -> pd.DataFrame:
    """Per knocked-down gene with planted targets: AUROC of |mean observed log2FC| over its cells against its planted
    direct targets (the gene itself not scored). If the simulator's effects are readable, this is well above 0.5."""
    edges = pd.read_csv(Path(truth_dir) / "network_edges.csv")
    genes = screen.var_names.astype(str).tolist()
    pert = screen.obs["perturbation"].astype(str).to_numpy()
    kind = screen.obs["kind"].astype(str).to_numpy()
    lfc = screen.layers["log2fc"]
    rows = []
    for g in sorted(set(pert[kind == "TSS"]) & set(edges["source"].astype(str))):
        cells = np.flatnonzero(pert == g)
        truth = np.isin(genes, edges.loc[edges["source"].astype(str) == g, "target"].astype(str))  # [G] direct
        if len(cells) < min_cells or not truth.any():
            continue
        effect = np.abs(np.asarray(lfc[cells], dtype=np.float64).mean(0))
        keep = np.array(genes) != g
        auroc, _ = auroc_auprc(effect[keep], truth[keep])
        rows.append({"perturbation": g, "n_cells": len(cells), "n_targets": int(truth.sum()), "auroc": auroc})
    return pd.DataFrame(rows)


def dna_readout_auroc(
    dna: str | os.PathLike, truth_dir: str | os.PathLike, loci: Sequence[str] | None = None, n_folds: int = 5
) -> float:
    """Out-of-fold AUROC of a logistic regression from each DNA bin's embedding to "on a planted element", folds
    grouped by locus (no locus is seen in fitting and scoring): can the DNA input be read at all?"""
    elements = pd.read_csv(Path(truth_dir) / "elements.csv")
    with DNAStore(dna) as store:
        loci = [k for k in (loci or store.loci_ids()) if k in set(elements["locus_id"].astype(str))]
        x = store.stack(loci)  # [U, L, D]
        n_bins = store.n_bins
    y = element_truth(elements, loci, n_bins)["any element"].ravel()
    groups = np.repeat(np.arange(len(loci)), n_bins)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    folds = GroupKFold(n_splits=min(n_folds, len(loci)))
    prob = cross_val_predict(model, x.reshape(-1, x.shape[-1]), y, groups=groups, cv=folds, method="predict_proba")
    return auroc_auprc(prob[:, 1], y)[0]


def positive_controls(screen: ad.AnnData, dna: str | os.PathLike, truth_dir: str | os.PathLike) -> pd.DataFrame:
    """The two positive controls as claim / value / reference / reference_value rows."""
    effects = observed_effect_auroc(screen, truth_dir)
    rows = [
        (
            f"observed knockdown effects vs planted targets, AUROC (mean over {len(effects)} genes)",
            effects["auroc"].mean(),
            "chance",
            0.5,
        ),
        (
            "DNA embeddings -> planted elements, logistic read-out AUROC (out of fold)",
            dna_readout_auroc(dna, truth_dir),
            "chance",
            0.5,
        ),
    ]
    return pd.DataFrame(rows, columns=["claim", "value", "reference", "reference_value"])


# --- the Virtual Cell Challenge's scorer ------------------------------------------------------------------------------------

CONTROL_LABEL = "non-targeting"
"""cell-eval's default name for the control cells."""


def cell_eval_pair(
    screen: ad.AnnData, rows: np.ndarray, log2fc: np.ndarray, *, pert_col: str = "target"
) -> tuple[ad.AnnData, ad.AnnData]:
    """(predicted, observed) AnnData for cell-eval: the cells `rows` plus every NTC cell (label `CONTROL_LABEL`).

    X is ln(CPM + 1), cell-eval's log-normalised input: observed = the screen's X; predicted = the NTC mean mapped
    through the predicted log2FC (the inverse of the contract's target), ln((NTC mean CPM + 1) * 2^log2FC), at least 0. Both
    carry the same NTC cells, as the challenge's predictions do.
    """
    rows = np.asarray(rows)
    ntc = np.flatnonzero(screen.obs["kind"].astype(str).to_numpy() == "NTC")
    if len(ntc) == 0:
        raise ValueError("cell-eval needs control cells and this screen has no NTC cells")
    base = np.log1p(screen.var["ntc_mean_cpm"].to_numpy(np.float64))
    x = screen.X.toarray() if hasattr(screen.X, "toarray") else np.asarray(screen.X)
    observed = np.asarray(x, np.float32)
    predicted = np.maximum(base + np.asarray(log2fc, np.float64) * np.log(2), 0).astype(np.float32)  # CPM >= 0
    label = screen.obs["perturbation"].astype(str).to_numpy()
    all_rows = np.concatenate([rows, ntc])
    obs = pd.DataFrame(
        {pert_col: np.where(np.isin(all_rows, ntc), CONTROL_LABEL, label[all_rows])},
        index=screen.obs_names[all_rows].astype(str),
    )
    var = pd.DataFrame(index=screen.var_names.astype(str))
    pred = ad.AnnData(np.concatenate([predicted, observed[ntc]]), obs=obs.copy(), var=var.copy())
    real = ad.AnnData(observed[all_rows], obs=obs, var=var)
    return pred, real


def mean_effect_log2fc(
    screen: ad.AnnData, n_rows: int, protocol: str = "paper", kinds: Sequence[str] = ("TSS", "SNP")
) -> np.ndarray:
    """[n_rows, G] the mean training effect (mean log2FC of the protocol's training cells) as every cell's
    prediction: the baseline cell-eval scores beside the runs."""
    obs = screen.obs
    train = obs["split"].astype(str).isin(split_roles("cdt2", protocol)["train"]) & obs["kind"].astype(str).isin(kinds)
    mean = np.asarray(screen.layers["log2fc"][train.to_numpy()], np.float64).mean(0)
    return np.broadcast_to(mean, (n_rows, screen.n_vars))


def cell_eval_scores(
    pred: ad.AnnData, real: ad.AnnData, outdir: str | os.PathLike, *, profile: str = "minimal", pert_col: str = "target"
) -> pd.DataFrame:
    """cell-eval's aggregate metrics (one row per metric: mean, median, ...) of `pred` against `real`; needs the
    optional `celleval` extra (``pip install "cdt[celleval]"``)."""
    try:
        from cell_eval import MetricsEvaluator
    except ImportError:
        raise ImportError('cell-eval is not installed; pip install "cdt[celleval]"') from None
    evaluator = MetricsEvaluator(
        pred, real, control_pert=CONTROL_LABEL, pert_col=pert_col, num_threads=1, outdir=str(outdir)
    )
    _, agg = evaluator.compute(profile=profile, write_csv=False)
    return agg.to_pandas()


# --- across seeds ----------------------------------------------------------------------------------------------------------


def seed_spread(tables: Mapping[int, pd.DataFrame], keys: Sequence[str], value: str = "value") -> pd.DataFrame:
    """Mean, min, max and n of `value` over seeds for every row key (seed -> table with the same `keys` columns)."""
    long = pd.concat([t.assign(seed=s) for s, t in tables.items()], ignore_index=True)
    g = long.groupby(list(keys), sort=False)[value]
    return g.agg(mean="mean", min="min", max="max", n="count").reset_index()


@dataclass
class LeakFreeRuns:
    runs: dict[str, Any]  # label ('CDT-II, control') -> loaded run
    seconds: dict[str, float]  # label -> wall time of train() (training, or reuse of a finished run)


def leak_free_runs(
    screen: str | os.PathLike,
    dna: str | os.PathLike,
    runs_dir: str | os.PathLike,
    *,
    preset: str = "mini",
    seed: int = 0,
    models: Sequence[str] = ("cdt2", "cdt3"),
    input_protocols: Sequence[str] = ("cell", "control"),
    epochs: int | None = None,
    progress: bool = False,
) -> LeakFreeRuns:
    """Train (or reuse) each model under each input protocol on one screen (file paths). CDT-III starts from the
    CDT-II of the same protocol; `epochs` caps every phase (None: the preset's schedule). The protocols' chains
    train side by side where the preset is small and there are cores for it (`cdt.train.jobs`)."""
    files = DataFiles(dna=str(dna), screen=str(screen))
    workers, threads = side_by_side(len(input_protocols), preset)
    with job_pool(workers, threads) as pool:
        chains = [
            pool.submit(_train_chain, files, str(runs_dir), preset, seed, list(models), ip, epochs, progress)
            for ip in input_protocols
        ]
        trained = [run for chain in chains for run in chain.result()]
    runs: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    for run_dir, wall in trained:
        run = load_run(run_dir)
        runs[run_label(run)] = run
        seconds[run_label(run)] = wall
    return LeakFreeRuns(runs, seconds)


def _train_chain(
    files: DataFiles,
    runs_dir: str,
    preset: str,
    seed: int,
    models: list[str],
    input_protocol: str,
    epochs: int | None,
    progress: bool,
) -> list[tuple[str, float]]:
    """(run directory, wall seconds) of each model under one input protocol, CDT-III from that CDT-II."""
    out: list[tuple[str, float]] = []
    cdt2_dir = None
    for model in models:
        changes: dict[str, Any] = {"seed": seed, "input_protocol": input_protocol}
        if epochs is not None:
            changes["epochs"] = epochs
        cfg = TrainConfig.for_model(model, preset, **changes)
        if model != "cdt2" and cdt2_dir is not None:
            cfg = cfg.with_(init_from=str(cdt2_dir))
        t0 = time.perf_counter()
        result = train(cfg, files, runs_dir, progress=progress)
        out.append((str(result.run_dir), time.perf_counter() - t0))
        if model == "cdt2":
            cdt2_dir = result.run_dir
    return out


def readouts_table(runs: dict[str, Any], screen: ad.AnnData, paths: Any, *, n_cells: int, seed: int) -> pd.DataFrame:
    """`attention_readouts` of every run (label -> loaded run) with run and input_protocol columns; empty when the
    data have no planted truth (`paths.truth_dir` unset)."""
    if not paths.truth_dir:
        return pd.DataFrame()
    return pd.concat(
        [
            attention_readouts(
                run,
                screen,
                paths.dna,
                paths.truth_dir,
                encode_dir=paths.encode_dir,
                hic_path=paths.hic,
                n_cells=n_cells,
                seed=seed,
            ).assign(run=label, input_protocol=run.config.input_protocol)
            for label, run in runs.items()
        ],
        ignore_index=True,
    )


def seed_tables(
    paths: Any,
    runs_dir: str | os.PathLike,
    *,
    preset: str,
    seed: int,
    models: Sequence[str] = ("cdt2",),
    epochs: int | None = None,
    n_cells: int = 10,
) -> dict[str, pd.DataFrame]:
    """Everything the comparison reports for one simulated screen (`paths`: its `cdt.reproduce.DataPaths`):
    'prediction' and 'readouts' (with run and input_protocol columns), 'controls', and 'seconds' per run."""
    trained = leak_free_runs(paths.screen, paths.dna, runs_dir, preset=preset, seed=seed, models=models, epochs=epochs)
    screen = read_screen(paths.screen)
    return {
        "prediction": prediction_table(screen, paths.dna, trained.runs),
        "readouts": readouts_table(trained.runs, screen, paths, n_cells=n_cells, seed=seed),
        "controls": positive_controls(screen, paths.dna, paths.truth_dir),
        "seconds": pd.DataFrame({"run": list(trained.seconds), "seconds": list(trained.seconds.values())}),
    }
