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
# # 02 — Architectures and prediction performance (CDT v1, CDT-II, CDT-III)
#
# | paper | item | claim (real data) |
# |---|---|---|
# | CDT v1 | Fig 1, Tables 1-4 | three frozen foundation models (Enformer 896x3,072, scGPT 512, ESM-C/ProteomeLM 768); d 768, 8 heads, ~60 M parameters; AdamW 1e-4, Huber 1.0, batch 8 |
# | CDT v1 | Fig 2 | predicted vs observed beta on 996 validation pairs r = 0.503; best epoch 16, stop 26, train r 0.65 |
# | CDT-II | Fig 1 (= CDT-III Fig 5) | DNA + per-cell RNA, ~21 M parameters |
# | CDT-II | Fig 3A | all held-out cells x genes: r 0.64, "R^2" 0.41 (that is r^2), Spearman 0.46 |
# | CDT-II | Fig 3B/C, text | per-gene pseudo-bulk r .75-.88 (mean .84); GFI1B trans profile r 0.88; top-50 trans targets GFI1B 26/50 (~25-fold), CD52 25/50 |
# | CDT-III | Fig 1, Table 1 / Fig 2B | two-stage VCE; per-gene RNA r CDT-II .804 -> CDT-III .843; protein r .969 (65 expressed proteins) |
# | CDT-III | Fig 2A / Tables 4, 7 | single-stage variants RNA r .19-.37 vs two-stage .64 |
# | CDT-III | Fig 2C | per-gene protein predicted vs actual |
#
# Every model here is trained by `cdt reproduce` on this notebook's data source. Predictions are made on the
# reported held-out cells: the five held-out TSS genes (split `test`) for CDT-II/III, the validation pairs for
# CDT v1 (as the paper reports them). Under the `paper` protocol those same cells also choose the best
# checkpoint, as the authors' did; the `clean` protocol selects on separate validation genes instead.

# %% tags=["parameters"]
data_source = "synthetic"
data_dir = ""
runs_dir = "../runs"
out_dir = "../paper"
preset = ""  # empty: the last `cdt reproduce` preset, else tiny (minutes from nothing)
seed = 0
protocol = "paper"

# %%
import cdt.analyses.prediction as ap
import cdt.pl.prediction as pr
from cdt.pl.schematic import draw_schematic
from cdt.published import CDT2_PER_GENE_R, CDT2_TOP50, CDT3_STAGE_ABLATION
from cdt.report import save_table
from cdt.reproduce import open_notebook
from cdt.train import open_run
from IPython.display import Markdown, display

ctx, nums = open_notebook(
    "02_prediction",
    data_source,
    data_dir,
    runs_dir,
    out_dir,
    preset,
    seed,
    protocol,
    models=["cdt2", "cdt3", "cdt3_single", "cdt1"],
)
runs = {k: open_run(v) for k, v in ctx.runs.items()}
display(
    Markdown(
        f"Data: **{ctx.source_label}**, protocol **{protocol}**. Runs: "
        + ", ".join(f"`{k}` ({type(r.model).__name__})" for k, r in runs.items())
    )
)


# %% [markdown]
# ## Architectures (CDT v1 Fig 1, CDT-II Fig 1 / CDT-III Fig 5, CDT-III Fig 1)
# The papers' Figure 1 drawings are replaced by schematics generated from the trained models: one box per
# module with its output shape and parameter count, arrows along the data flow. Parameter counts at the
# published (`paper`) dimensions come from the same code, built on PyTorch's `meta` device.

# %%
schematics = {
    "cdt1": ("cdt1_fig1_architecture", "CDT v1"),
    "cdt2": ("cdt2_fig1_architecture", "CDT-II"),
    "cdt3": ("cdt3_fig1_architecture", "CDT-III (two-stage VCE)"),
    "cdt3_single": ("cdt3_fig2a_single_stage_architecture", "CDT-III single-stage ablation"),
}
for key, (name, title) in schematics.items():
    if key in runs:
        ctx.show(draw_schematic(runs[key].model, f"{title}, {ctx.preset} preset"), name, data=False)

params = ap.parameter_counts(ctx.preset)
save_table(params, "model_parameter_counts", ctx.out_dir)
display(params)
p = params.set_index("model")["paper_preset"]
note = "model code built at the paper preset (meta device); trained models here are smaller"
nums.add(
    key=("CDT v1", "Table 3", "parameters at the paper dimensions"),
    value=float(p["CDT v1"]),
    file="model_parameter_counts.csv",
    note=note,
)
nums.add(
    key=("CDT-II", "Fig 1", "parameters at the paper dimensions"),
    value=float(p["CDT-II"]),
    file="model_parameter_counts.csv",
    note=note,
)
nums.add(
    key=("CDT-III", "Fig 1", "parameters at the paper dimensions"),
    value=float(p["CDT-III"]),
    file="model_parameter_counts.csv",
    note=note,
)
if "CDT-II full gene set (9,335 genes)" in p:
    nums.add(
        key=("CDT-II", "Fig 2", "parameters, 9,335-gene ablation model"),
        value=float(p["CDT-II full gene set (9,335 genes)"]),
        file="model_parameter_counts.csv",
        note="the paper's ~54 M is not reproduced by the stated architecture (~28 M); its stage-2 code is unpublished",
    )

# %% [markdown]
# ## CDT v1 — Tables 1-4
# Table 1 names the foundation models; here the DNA store and embedding file record what produced this run's
# inputs. Table 2's shapes are read from a forward pass of the trained model's architecture.

# %%
if "cdt1" in runs and ctx.paths.v1_dna and ctx.paths.v1_embeddings:
    v1 = runs["cdt1"]
    tables = {
        "cdt1_table1_foundation_models": ap.v1_foundation_models(ctx.paths.v1_dna, ctx.paths.v1_embeddings),
        "cdt1_table2_attention_shapes": ap.attention_table(v1.model),
        "cdt1_table3_model_config": ap.v1_model_table(v1.model),
        "cdt1_table4_training": ap.v1_training_table(v1.config),
    }
    for name, table in tables.items():
        save_table(table, name, ctx.out_dir)
        display(Markdown(f"**{name}**"), table)
else:
    display(Markdown("**Skipped:** no CDT v1 run on this data source (the Gasperini pairs are not part of it)."))

# %% [markdown]
# ## CDT v1 — Fig 2: predicted vs observed beta, learning curves

# %%
if "cdt1" in runs and ctx.paths.v1_dna:
    v1_splits = ap.v1_reported_splits(v1)
    pairs = ap.v1_predictions(v1, splits=v1_splits)
    v1_stats = ap.v1_scores(pairs)
    v1_hist = ap.history_summary(v1.history)
    ctx.show(pr.v1_scatter(pairs, v1_stats), "cdt1_fig2a_pred_vs_obs_beta")
    ctx.show(
        pr.v1_history(v1.history, v1_hist["best_epoch"], "Huber loss" if v1.config.huber_delta is not None else "MSE"),
        "cdt1_fig2bc_learning_curves",
    )
    base_r = ap.run_summary(v1).get("baseline_r", float("nan"))
    nums.add(
        key=("CDT v1", "Fig 2A", "val Pearson r, predicted vs observed beta"),
        value=v1_stats["r"],
        file="cdt1_fig2a_pred_vs_obs_beta.png",
        note=f"n = {v1_stats['n']} {'/'.join(v1_splits)} pairs (published 996)",
    )
    nums.add(
        key=("CDT v1", "Fig 2A", "val Spearman rho"), value=v1_stats["rho"], file="cdt1_fig2a_pred_vs_obs_beta.png"
    )
    nums.add(
        key=("CDT v1", "Fig 2B/C", "best epoch"),
        value=v1_hist["best_epoch"],
        file="cdt1_fig2bc_learning_curves.png",
        note=f"of at most {v1.config.phases[0].epochs} (published 50)",
    )
    nums.add(
        key=("CDT v1", "Fig 2B/C", "stop epoch"), value=v1_hist["stop_epoch"], file="cdt1_fig2bc_learning_curves.png"
    )
    nums.add(
        key=("CDT v1", "Fig 2B/C", "train r at the last epoch"),
        value=v1_hist["train_r_last"],
        file="cdt1_fig2bc_learning_curves.png",
    )
    nums.add(
        key=("CDT v1", "Fig 2A", "per-gene mean training beta baseline r"),
        value=base_r,
        note="trainer's baseline: each pair predicted as the mean training beta of its target gene",
    )
    display(
        Markdown(f"""
CDT v1 on this data: validation r = **{v1_stats["r"]:.3f}** over {v1_stats["n"]} pairs (P = {v1_stats["p_value"]:.1e};
published 0.503 over 996), best epoch {v1_hist["best_epoch"]}, stopped at {v1_hist["stop_epoch"]} (published 16 and 26),
train r at the end {v1_hist["train_r_last"]:.3f} (published 0.65). The trainer's baseline reaches r = {base_r:.3f}.
""")
    )

# %% [markdown]
# ## CDT-II — Fig 3A: all held-out cells x genes
# The paper's "R^2 = 0.41" is the square of r (0.64^2); the coefficient of determination 1 - SSE/SST is shown
# beside it because the two differ whenever predictions are not calibrated.

# %%
cdt2 = ap.held_out(runs["cdt2"], ctx.paths.screen, ctx.paths.dna, "CDT-II")
o = cdt2.evaluation.overall
ctx.show(pr.pred_vs_actual(cdt2.pred.rna, cdt2.target, o), "cdt2_fig3a_pred_vs_actual")
overall = ap.stage_comparison({"CDT-II": cdt2}).drop(columns=["protein_r_expressed", "protein_pb_r_expressed"])
overall = overall.assign(rho=o["rho"], r_squared=o["r_squared"], R2=o["R2"], mse=o["mse"], n_pairs=o["n"])
save_table(overall, "cdt2_fig3a_overall_scores", ctx.out_dir)
f3a = "cdt2_fig3a_pred_vs_actual.png"
nums.add(
    key=("CDT-II", "Fig 3A", "overall Pearson r (cells x genes)"),
    value=o["r"],
    file=f3a,
    note=f"{len(cdt2.groups)} cells x {len(cdt2.genes)} genes (published 2,037 x 2,361)",
)
nums.add(key=("CDT-II", "Fig 3A", "r^2 (the paper's 'R^2')"), value=o["r_squared"], file=f3a)
nums.add(
    key=("CDT-II", "Fig 3A", "coefficient of determination 1 - SSE/SST"),
    value=o["R2"],
    file=f3a,
    note="not reported by the paper",
)
nums.add(key=("CDT-II", "Fig 3A", "Spearman rho"), value=o["rho"], file=f3a)
base2 = ap.run_summary(runs["cdt2"]).get("baseline_r")
if base2 is not None:
    nums.add(
        key=("CDT-II", "Fig 3A", "mean-training-effect baseline r"),
        value=base2,
        note="trainer's baseline on the same cells: every cell predicted as the mean training log2FC",
    )
display(overall)

# %% [markdown]
# ## CDT-II — Fig 3B: per held-out gene pseudo-bulk r
# Pseudo-bulk r = Pearson r over genes between the cell-mean predicted and cell-mean observed profile of one
# perturbation; `r_all` is the flattened r over that gene's cells x genes; `self_kd_r` the r across cells of the
# knocked-down gene's own column (only where that gene is among the model's outputs).

# %%
per_gene = ap.per_gene_table(cdt2, CDT2_PER_GENE_R)
save_table(per_gene, "cdt2_fig3b_per_gene_r", ctx.out_dir)
pb = cdt2.evaluation.per_perturbation
ctx.show(
    pr.pseudobulk_panels(ap.pseudobulk(cdt2), pb["r_mean"], pb["n_cells"], list(CDT2_PER_GENE_R)),
    "cdt2_fig3b_per_gene_r",
)
for _, row in per_gene.iterrows():
    nums.add(
        key=("CDT-II", "Fig 3B", f"pseudo-bulk r, {row['perturbation']}"),
        value=row["r_mean"],
        file="cdt2_fig3b_per_gene_r.png",
        note=f"{int(row['n_cells'])} cells",
    )
nums.add(
    key=("CDT-II", "Fig 3B", "pseudo-bulk r, mean over held-out genes"),
    value=o["r_mean_avg"],
    file="cdt2_fig3b_per_gene_r.png",
)
base2_pb = ap.run_summary(runs["cdt2"]).get("baseline_pb_r")
if base2_pb is not None:
    nums.add(
        key=("CDT-II", "Fig 3B", "mean-training-effect baseline pseudo-bulk r (mean)"),
        value=base2_pb,
        note="trainer's baseline on the same cells",
    )
display(per_gene)

# %% [markdown]
# ## CDT-II — Fig 3C: GFI1B trans-effect profile

# %%
if "GFI1B" in set(cdt2.groups):
    profile, r_gfi1b = ap.trans_profile(cdt2, "GFI1B")
    ctx.show(pr.trans_profile(profile, "GFI1B", r_gfi1b), "cdt2_fig3c_gfi1b_trans_profile")
    nums.add(
        key=("CDT-II", "Fig 3C", "GFI1B mean predicted vs mean observed profile r"),
        value=r_gfi1b,
        file="cdt2_fig3c_gfi1b_trans_profile.png",
    )
else:
    display(Markdown("**Skipped:** GFI1B is not among the held-out perturbations of this screen."))

# %% [markdown]
# ## CDT-II — top-50 predicted vs top-50 observed trans targets (text)
# Genes ranked by |cell-mean log2FC|, predicted and observed; overlap tested with the hypergeometric
# distribution over all model genes (expected overlap 50 x 50 / n_genes).

# %%
top = ap.top_targets(cdt2, 50, CDT2_TOP50)
save_table(top.drop(columns="shared_genes"), "cdt2_text_top50_overlap", ctx.out_dir)
display(top.drop(columns="shared_genes"))
for gene in CDT2_TOP50:
    row = top[top["perturbation"] == gene]
    if len(row):
        row = row.iloc[0]
        nums.add(
            key=("CDT-II", "text", f"top-50 overlap, {gene} (shared genes)"),
            value=int(row["shared"]),
            file="cdt2_text_top50_overlap.csv",
            note=f"of {int(row['top_n'])}, among {int(row['M'])} genes",
        )
        nums.add(
            key=("CDT-II", "text", f"top-50 overlap, {gene} (fold over chance)"),
            value=float(row["fold"]),
            file="cdt2_text_top50_overlap.csv",
            note="published fold from 2,361 genes",
        )
        nums.add(
            key=("CDT-II", "text", f"top-50 overlap, {gene} (hypergeometric P)"),
            value=float(row["p_value"]),
            file="cdt2_text_top50_overlap.csv",
        )

# %% [markdown]
# ## CDT-III — Table 1 / Fig 2B: per-gene RNA r, CDT-II vs CDT-III; protein r
# Same held-out cells, same pseudo-bulk definition; protein r over the expressed proteins (the screen's
# `protein_expressed` flags: mean > 0.5 and SD > 0.1 in NTC cells, 65 of 189 in the paper).

# %%
if "cdt3" in runs:
    cdt3 = ap.held_out(runs["cdt3"], ctx.paths.screen, ctx.paths.dna, "CDT-III")
    table1 = ap.cdt2_vs_cdt3(cdt2, cdt3)
    save_table(table1, "cdt3_table1_per_gene_r", ctx.out_dir)
    ctx.show(
        pr.paired_bars(
            table1,
            ["rna_r_cdt2", "rna_r_cdt3"],
            ["CDT-II", "CDT-III"],
            ["published_rna_r_cdt2", "published_rna_r_cdt3"],
        ),
        "cdt3_fig2b_per_gene_rna_r",
    )
    o3 = cdt3.evaluation.overall
    n_expr = int(cdt3.expressed.sum())
    nums.add(
        key=("CDT-III", "Table 1", "per-gene RNA r, CDT-II (mean of held-out genes)"),
        value=o["r_mean_avg"],
        file="cdt3_fig2b_per_gene_rna_r.png",
    )
    nums.add(
        key=("CDT-III", "Table 1", "per-gene RNA r, CDT-III (mean of held-out genes)"),
        value=o3["r_mean_avg"],
        file="cdt3_fig2b_per_gene_rna_r.png",
    )
    nums.add(
        key=("CDT-III", "Table 1", "per-gene RNA r, CDT-III minus CDT-II"),
        value=o3["r_mean_avg"] - o["r_mean_avg"],
        file="cdt3_fig2b_per_gene_rna_r.png",
    )
    nums.add(
        key=("CDT-III", "Table 1", "per-gene protein r over expressed proteins (mean)"),
        value=o3["prot_r_mean_expressed_avg"],
        file="cdt3_table1_per_gene_r.csv",
        note=f"{n_expr} expressed (published 65)",
    )
    display(table1)
else:
    display(Markdown("**Skipped:** no CDT-III run on this data source (no protein measurements)."))

# %% [markdown]
# ## CDT-III — Fig 2A / Tables 4 and 7: single-stage vs two-stage
# The paper trained five single-stage variants (lambda 1.0, 0.11, 0.05, 0.01 and a 0.001 -> 0.01 warm-up); we
# train one, `cdt3_single`, with lambda 0.1 (the two-stage joint phase's weight, so that only the architecture
# differs). Like the paper's, it starts from the trained CDT-II with every weight transferred except the VCE
# fusion layer, whose input grows from 2d to 3d. Scores are pooled per-cell r on the held-out cells (RNA over
# all genes, protein over the expressed proteins).

# %%
if "cdt3" in runs and "cdt3_single" in runs:
    single = ap.held_out(runs["cdt3_single"], ctx.paths.screen, ctx.paths.dna, "CDT-III single-stage")
    stages = ap.stage_comparison(
        {"CDT-II (RNA only)": cdt2, "CDT-III single-stage (lambda 0.1)": single, "CDT-III two-stage": cdt3}
    )
    save_table(stages, "cdt3_fig2a_single_vs_two_stage", ctx.out_dir)
    ctx.show(pr.model_bars(stages, "rna_r", published=CDT3_STAGE_ABLATION), "cdt3_fig2a_single_vs_two_stage")
    init = runs["cdt3_single"].metrics.get("init", {})
    s = stages.set_index("model")
    f2a = "cdt3_fig2a_single_vs_two_stage.png"
    nums.add(
        key=("CDT-III", "Fig 2A / Table 4", "RNA r, two-stage"),
        value=float(s.loc["CDT-III two-stage", "rna_r"]),
        file=f2a,
    )
    nums.add(
        key=("CDT-III", "Fig 2A / Table 4", "RNA r, single-stage"),
        value=float(s.loc["CDT-III single-stage (lambda 0.1)", "rna_r"]),
        file=f2a,
        note="ours: lambda 0.1; nearest published variant B (lambda 0.11); published range .19-.37",
    )
    nums.add(
        key=("CDT-III", "Fig 2A / Table 4", "RNA r, two-stage minus single-stage"),
        value=float(s.loc["CDT-III two-stage", "rna_r"] - s.loc["CDT-III single-stage (lambda 0.1)", "rna_r"]),
        file=f2a,
        note="published: against the best single-stage variant (D, 0.37)",
    )
    nums.add(
        key=("CDT-III", "Table 4", "protein r (pooled, expressed), two-stage"),
        value=float(s.loc["CDT-III two-stage", "protein_r_expressed"]),
        file=f2a,
    )
    display(stages)
    display(
        Markdown(
            f"Single-stage initialisation: {init.get('copied', '?')} tensors copied from CDT-II, not "
            f"transferred: {', '.join(init.get('skipped', [])) or 'none'}."
        )
    )
    display(CDT3_STAGE_ABLATION)

# %% [markdown]
# ## CDT-III — Fig 2C: per-gene protein predicted vs actual

# %%
if "cdt3" in runs:
    prot = ap.pseudobulk(cdt3, "protein")
    ctx.show(
        pr.pseudobulk_overlay(prot, cdt3.evaluation.per_perturbation["prot_r_mean_expressed"]),
        "cdt3_fig2c_protein_pred_vs_actual",
    )

# %% [markdown]
# ## What this run shows

# %%
lines = [
    f"- CDT-II on the held-out cells: r = {o['r']:.3f} (published 0.64), r^2 = {o['r_squared']:.3f} (0.41), "
    f"R^2 = {o['R2']:.3f}, Spearman {o['rho']:.3f} (0.46); mean per-gene pseudo-bulk r {o['r_mean_avg']:.3f} "
    f"(0.84)."
]
if base2 is not None:
    lines.append(
        f"- Predicting every cell as the mean training effect gives r = {base2:.3f} on the same cells: CDT-II "
        f"is {'above' if o['r'] > base2 else 'not above'} that reference ({o['r'] - base2:+.3f})."
    )
if base2_pb is not None:
    lines.append(
        f"- The same baseline's mean pseudo-bulk r is {base2_pb:.3f} (CDT-II {o['r_mean_avg']:.3f}): a shared "
        "average response already correlates with each gene's mean profile, so pseudo-bulk r alone does not "
        "show perturbation-specific prediction."
    )
gfi = top[top["perturbation"] == "GFI1B"]
if len(gfi):
    g = gfi.iloc[0]
    lines.append(
        f"- GFI1B top-50 trans targets: {int(g['shared'])}/50 shared, {g['fold']:.1f}-fold over chance, "
        f"P = {g['p_value']:.1e} (published 26/50, ~25-fold over 2,361 genes; with {int(g['M'])} genes "
        f"here, chance alone gives {g['expected']:.1f})."
    )
if "cdt3" in runs:
    d = o3["r_mean_avg"] - o["r_mean_avg"]
    lines.append(
        f"- CDT-III vs CDT-II per-gene RNA r: {o['r_mean_avg']:.3f} -> {o3['r_mean_avg']:.3f} ({d:+.3f}; "
        f"published +0.039); protein pseudo-bulk r over expressed proteins {o3['prot_r_mean_expressed_avg']:.3f}"
        f" (0.969)."
    )
if "cdt3" in runs and "cdt3_single" in runs:
    two, one = float(s.loc["CDT-III two-stage", "rna_r"]), float(s.loc["CDT-III single-stage (lambda 0.1)", "rna_r"])
    lines.append(
        f"- Two-stage vs single-stage RNA r: {two:.3f} vs {one:.3f} — the single-stage model is "
        f"{'worse' if one < two - 0.02 else 'not worse'} here (published 0.64 vs 0.19-0.37)."
    )
lines.append(
    "- Caution (true of the task as published, not of this data only): the target log2FC of a cell is an "
    "affine function of its own input expression, gene by gene, and the protein target is the protein input "
    "minus its NTC mean, so a model can read much of the answer from its input. Notebook 07 sets these "
    "numbers beside ridge and locus baselines."
)
display(Markdown("\n".join(lines)))

# %%
nums.save()
