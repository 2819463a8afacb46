# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 08 — The leak-free test: CDT with inputs that do not contain the answer
#
# In the papers' set-up each cell's RNA target is, gene by gene, an affine map of that cell's own RNA input (and the
# protein target is the protein input minus a constant), so a model can score well by passing its input through and
# has no reason to read the DNA. Here the same models are also trained under the **`control`** input protocol: every
# cell is given the RNA (and protein) of a randomly drawn NTC cell — a realistic cell state that says nothing about
# the perturbation — while the target stays the cell's own. Only the DNA of the perturbed locus tells the model
# which perturbation happened. If CDT's attention finds regulation when it has to, it should show here.
#
# 1. **Prediction**: held-out per-cell and pseudo-bulk r under `cell` and `control`, beside the mean training effect,
#    the DNA-only ridge and the nearest training locus (none of which sees a cell's input) and the ridge on the input.
# 2. **Attention against truth**: the papers' read-outs scored against what the simulator planted, each on the
#    inputs the run was evaluated on.
# 3. **Positive controls**: is the planted truth recoverable at all from this screen?
# 4. **cell-eval**: the Virtual Cell Challenge's scorer on the same predictions (when the `celleval` extra is
#    installed).
#
# Not part of the default `cdt reproduce` (it trains its own runs): `cdt reproduce --only 08`, or
# `cdt leak-free --seeds 0,1,2` for the spread over seeds.

# %% tags=["parameters"]
data_source = "synthetic"
data_dir = ""
runs_dir = "../runs"
out_dir = "../paper"
preset = ""  # empty: the last `cdt reproduce` preset, else tiny (minutes from nothing)
seed = 0
protocol = "paper"
models = "cdt2"  # comma-separated: cdt2, cdt3 (CDT-III starts from the CDT-II of the same input protocol)
epochs = 0  # 0: the preset's schedule; otherwise the epoch limit of every phase
n_cells = 10  # cells per locus / perturbation averaged for the attention read-outs

# %%
import importlib.util

import cdt.analyses.leak_free as lf
import cdt.pl.leak_free as pf
import pandas as pd
from cdt.data.screen import read_screen
from cdt.evaluate import predict
from cdt.reproduce import open_notebook
from IPython.display import Markdown, display

ctx, nums = open_notebook("08_leak_free", data_source, data_dir, runs_dir, out_dir, preset, seed, protocol, models=[])
p = ctx.paths
screen = read_screen(p.screen)
input_protocols = ("cell", "control") if ctx.synthetic else ("cell", "ntc-mean")  # the authors' files have no NTC cells
trained = lf.leak_free_runs(
    p.screen,
    p.dna,
    runs_dir,
    preset=ctx.preset,
    seed=seed,
    models=models.split(","),
    input_protocols=input_protocols,
    epochs=epochs or None,
)
runs = trained.runs
LF = "Beyond the papers: leak-free"
display(
    Markdown(
        f"Data: **{ctx.source_label}**, protocol **{protocol}**, schedule "
        f"**{'the preset' if not epochs else f'{epochs} epochs per phase'}**. Runs: "
        + ", ".join(f"`{k}` ({trained.seconds[k]:.0f} s)" for k in runs)
    )
)

# %% [markdown]
# ## 1. Prediction from the DNA alone
# The CDT numbers are each run's own metrics on the reported held-out cells; the baselines are fitted on the same
# training cells and scored on the same cells with the same metrics.

# %%
prediction = lf.prediction_table(screen, p.dna, runs)
ctx.table(prediction, "leak_free_prediction")
ctx.show(pf.prediction_bars(prediction, f"{ctx.source_label}: held-out cells"), "leak_free_prediction")
for row in prediction.itertuples(index=False):
    who = f"{row.model}, input {row.input_protocol}" if row.method == "CDT" else f"{row.model} cells: {row.method}"
    for metric, what in (("r", "per-cell r"), ("pb_r", "pseudo-bulk r")):
        nums.add(
            key=(LF, f"prediction ({row.target})", f"{what} — {who}"),
            value=getattr(row, metric),
            file="leak_free_prediction.png",
        )

# %% [markdown]
# ## 2. The papers' attention read-outs against the planted truth
# Planted elements: each TSS locus's cross-attention profile (mean over genes, heads and its first cells) ranks its
# DNA bins; AUROC for bins on any planted element and the fold of planted bins among the top 10%. CTCF: peaks in the
# top bins over the expected share. ENCODE: the share of locus x mark Fisher tests of the top bins with P < 0.001.
# Hi-C: contact of the top bins with the promoter over random bins, off the promoter's own Hi-C bin. Network: the
# pooled RNA self-attention against the planted (undirected) network. GFI1B: its attention row's top-N against the
# top-N of its observed knockdown effect, and the share of planted targets among them.

# %%
readouts = lf.readouts_table(runs, screen, p, n_cells=n_cells, seed=seed)
if len(readouts):
    ctx.table(readouts, "leak_free_attention_readouts")
    ctx.show(pf.readout_dots(readouts), "leak_free_attention_readouts")
    display(readouts.pivot(index="claim", columns="run", values="value").round(3))
    for row in readouts.itertuples(index=False):
        nums.add(
            key=(LF, f"attention vs truth, {row.run}", row.claim),
            value=row.value,
            file="leak_free_attention_readouts.png",
            note=f"{row.reference}: {row.reference_value:.3g}",
        )
else:
    display(Markdown("**Skipped:** real data has no planted truth to score attention against."))

# %% [markdown]
# ## 3. Positive controls
# The observed knockdown effects ranked against each knocked-down gene's planted targets, and a logistic regression
# from each DNA bin's embedding to "on a planted element" (folds grouped by locus). Both well above 0.5 means the
# truth is in the data and in the DNA input: a method that reads them correctly can recover it.

# %%
if p.truth_dir:
    controls = lf.positive_controls(screen, p.dna, p.truth_dir)
    ctx.table(controls, "leak_free_positive_controls")
    for row in controls.itertuples(index=False):
        nums.add(key=(LF, "positive controls", row.claim), value=row.value, file="leak_free_positive_controls.csv")

# %% [markdown]
# ## 4. The Virtual Cell Challenge's scorer
# Predictions are exported as cell-eval expects them (log-normalised expression of the held-out cells and of the NTC
# cells, a `target` column, controls labelled `non-targeting`) and scored with its `minimal` profile, beside the mean
# training effect given to every cell.

# %%
if importlib.util.find_spec("cell_eval") is None:
    display(Markdown('**Skipped:** cell-eval is not installed (`pip install "cdt[celleval]"`).'))
else:
    scored = []
    for label, run in runs.items():
        pred = predict(run.model, lf.run_inputs(run, screen), p.dna)
        adata_pred, adata_real = lf.cell_eval_pair(screen, pred.rows, pred.rna)
        agg = lf.cell_eval_scores(adata_pred, adata_real, f"{ctx.out_dir}/cell_eval/{label}")
        scored.append(agg[agg["statistic"] == "mean"].drop(columns="statistic").assign(run=label))
    baseline = lf.mean_effect_log2fc(screen, len(pred.rows), protocol)
    agg = lf.cell_eval_scores(*lf.cell_eval_pair(screen, pred.rows, baseline), f"{ctx.out_dir}/cell_eval/mean")
    scored.append(agg[agg["statistic"] == "mean"].drop(columns="statistic").assign(run="mean training effect"))
    ctx.table(pd.concat(scored, ignore_index=True).set_index("run").T.reset_index(), "leak_free_cell_eval")
