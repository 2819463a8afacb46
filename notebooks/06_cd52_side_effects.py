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
# # 06 — CD52 knockdown and Alemtuzumab side effects (CDT-III)
#
# | item | claim (real data) |
# |---|---|
# | Fig 4A | CD52 knockdown, pseudo-bulk RNA predicted vs actual over 2,361 genes: r = 0.748 (131 cells) |
# | Fig 4B | CD52 knockdown, pseudo-bulk protein predicted vs actual over the 65 expressed proteins: r = 0.962 |
# | Fig 4C | side-effect map: 29 expressed proteins change by more than 0.1 DSB; direction agreement 29/29 |
# | Table 3 | known Alemtuzumab side effects vs predicted protein changes: 5/7 recapitulated (qualitative curation) |
# | Table 8 | top-20 proteins by d protein / d RNA(CD52), e.g. FCGR2A +0.059, labelled "up" |
# | Table 10 | gradient from the NTC-mean input vs from perturbed cells: r 0.939 over 65 expressed, 96.9% same sign |
# | Fig 6 | genes measured as mRNA and protein: 13/16 move in opposite directions after CD52 knockdown |
#
# Two cautions carry through the notebook:
# - **Input/target coupling.** CDT-III reads each cell's measured proteins as input, and the protein target is
#   that same measurement minus a constant (the NTC mean). A model that copies its input scores well on Fig 4B/C.
#   A control below hides the measured proteins (NTC-mean protein input), so the protein change must come from
#   DNA + RNA.
# - **Gradient sign.** The knockdown lowers RNA(CD52), so to first order Δprotein ≈ gradient × ΔRNA(CD52): a
#   *positive* gradient predicts a *decrease*. The authors label a positive gradient "↑". Table 8 reports both
#   the code's label and the first-order direction.

# %% tags=["parameters"]
data_source = "synthetic"
data_dir = ""
runs_dir = "../runs"
out_dir = "../paper"
preset = ""  # empty: the last `cdt reproduce` preset, else tiny (minutes from nothing)
seed = 0
protocol = "paper"

# %%
import cdt.analyses.cd52 as a
import cdt.pl.cd52 as pc
import torch
from cdt.evaluate import resolve_screen
from cdt.report import save_table
from cdt.reproduce import REPO_ROOT, open_notebook
from cdt.train import open_run
from IPython.display import Markdown, display

torch.set_num_threads(1)  # small models on shared cores: one thread avoids oversubscription stalls
ctx, nums = open_notebook(
    "06_cd52_side_effects", data_source, data_dir, runs_dir, out_dir, preset, seed, protocol, models=["cdt3"]
)
PERT = "CD52"  # the knocked-down gene (held out from training)
FIRST_N = 30  # perturbed-cell gradients: the authors' first 30 CD52 cells in file order (None = all cells)

screen = resolve_screen(ctx.paths.screen)
run = open_run(ctx.runs["cdt3"]) if "cdt3" in ctx.runs else None
has_proteins = "protein_names" in screen.uns
# ADT ID -> gene symbol: the user's adt_mapping.csv beside the data if given, else the project's 189-entry table
genes = a.protein_genes(screen, a.adt_mapping_file(data_dir, REPO_ROOT)) if has_proteins else None
ready, opening = a.readiness(screen, run, genes, source_label=ctx.source_label, protocol=protocol, perturbation=PERT)
display(Markdown(opening))


# %% [markdown]
# ## Fig 4A/B — direct prediction of the CD52 knockdown
# Every CD52 cell goes through CDT-III with its own RNA and proteins and the CD52 DNA; predictions and
# measurements are averaged over the cells (pseudo-bulk), then correlated over genes (A) and over the expressed
# proteins (B). The control repeats B with every cell's protein input set to the NTC-mean protein level.

# %%
if ready:
    kp = a.knockdown_prediction(run.model, screen, ctx.paths.dna, PERT, genes)
    kc = a.knockdown_prediction(run.model, screen, ctx.paths.dna, PERT, genes, protein_input="ntc_mean")
    ctx.show(pc.rna_scatter(kp.rna, kp.scores["rna_r"], kp.scores["n_cells"], PERT), "cdt3_fig4a_cd52_rna")
    fig = pc.protein_scatter(kp.protein, kp.scores["protein_r"], control=kc.protein, control_r=kc.scores["protein_r"])
    ctx.show(fig, "cdt3_fig4b_cd52_protein")
    save_table(
        kp.protein.assign(predicted_ntc_protein_input=kc.protein["predicted"]), "cdt3_fig4b_cd52_protein", ctx.out_dir
    )
    nums.report(a.knockdown_findings(kp, kc))

# %% [markdown]
# ## Fig 4C — side-effect map: detectable protein changes
# Detectable = expressed protein whose *measured* pseudo-bulk change exceeds 0.1 DSB in absolute value; agreement =
# the prediction has the measured sign. The figure shows every detectable protein (the authors' figure shows the
# first 25 of their 29 while the caption counts all 29).

# %%
if ready:
    det, ds = a.detectable_changes(kp.protein)
    ctx.show(pc.side_effect_bars(det, ds), "cdt3_fig4c_side_effect_map")
    nums.report(a.detectable_findings(ds, a.detectable_changes(kc.protein)[1]))
    ctx.table(det, "cdt3_fig4c_side_effect_map")

# %% [markdown]
# ## Table 10 — gradients from the NTC-mean input vs from perturbed cells
# d protein_j / d RNA(CD52) for all proteins, raw gradients in eval mode (paper/METHODS.md, 'CD52 gradients'). NTC-mean
# version: one input with the NTC-mean RNA and the NTC-mean protein level (by the screen contract, measured protein −
# protein target; the authors' file may have fallen back to the mean over all perturbed cells) and the CD52 DNA.
# Perturbed-cell version: the mean over the first 30 CD52 cells in file order, the authors' choice (switch
# `FIRST_N` above; `None` uses all CD52 cells).

# %%
if ready:
    grads = a.protein_gradients(run.model, screen, ctx.paths.dna, PERT, first_n=FIRST_N)
    expressed = kp.protein["expressed"].to_numpy()
    conc = a.gradient_concordance(grads, expressed)
    fig = pc.gradient_concordance(grads.ntc_mean, grads.cells, expressed, conc, grads.n_cells)
    ctx.show(fig, "cdt3_table10_gradient_concordance")
    nums.report(a.concordance_findings(conc, grads, first_n=FIRST_N))
    ctx.table(conc, "cdt3_table10_gradient_concordance")

# %% [markdown]
# ## Table 8 — top-20 proteins by |d protein / d RNA(CD52)|
# Ranked by the NTC-mean gradient, the input the paper names (the authors' saved CSV ranks the perturbed-cell
# gradient instead; both tables are saved). `code_label` is the authors' rule (gradient ≥ 0 → "up");
# `first_order_change` = gradient × ΔRNA(CD52), with ΔRNA(CD52) the measured mean input change of the CD52 cells
# against the NTC mean, and `first_order_direction` its sign: the direction the gradient actually predicts.

# %%
if ready:
    t8 = a.gradient_table(grads, kp, "ntc_mean")
    save_table(a.gradient_table(grads, kp, "cells"), "cdt3_table8_gradient_top20_perturbed_cells", ctx.out_dir)
    ctx.show(pc.gradient_bars(t8, "mean of control cells"), "cdt3_table8_gradient_top20")
    nums.report(a.gradient_top_findings(t8, grads))
    ctx.table(t8, "cdt3_table8_gradient_top20")

# %% [markdown]
# ## Table 3 — known Alemtuzumab side effects vs predicted protein changes
# The paper's match is a qualitative judgement (a literature-plausible link to any CDT-III protein change, mixing
# direct predictions and gradients). Here a side effect is **recapitulated** when at least one of its linked
# proteins has a *direct* predicted pseudo-bulk change in the listed direction (strict sign). This rule is stricter
# and numeric; a side effect with no linked protein, or whose proteins are not on the panel, is not recapitulated.
# Two further columns: the same rule with |predicted change| > 0.1 DSB, and with the gradient's first-order
# direction. Real data use the curated fact table `data/alemtuzumab_side_effects.csv`, synthetic data the
# simulator's table (same columns).

# %%
if ready:
    se_path = a.side_effects_file(ctx.paths, ctx.synthetic, REPO_ROOT)
    effects = a.read_side_effects(se_path)
    t3, ss = a.side_effect_table(effects, kp.protein, grads)
    nums.report(a.side_effect_findings(ss, se_path))
    ctx.table(t3, "cdt3_table3_side_effects")

# %% [markdown]
# ## Fig 6 — mRNA vs protein direction
# Genes whose protein is expressed and whose mRNA is a model feature (CD52 itself excluded): measured pseudo-bulk
# mRNA log2FC and protein change of the CD52 cells, "opposite" when the signs differ. The paper's claim that
# CDT-III predicts both the mRNA decrease and the protein increase has no code; here it is tested gene by gene.

# %%
if ready:
    t6, s6 = a.mrna_protein_divergence(kp)
    if len(t6):
        ctx.show(pc.divergence_bars(t6, s6), "cdt3_fig6_mrna_protein_divergence")
    nums.report(a.divergence_findings(s6, genes))
    ctx.table(t6, "cdt3_fig6_mrna_protein_divergence")

# %% [markdown]
# ## Simulated truth — do the predicted side-effect proteins follow the planted wiring?
# The simulator wires some proteins to CD52 RNA with a negative weight (knockdown raises them) and lowers the mRNA
# of others. The planted first-order effect of RNA(CD52) on a protein is its direct link plus its own-mRNA link times
# the RNA edge CD52 -> its gene (truth/protein_wiring.csv, network_edges.csv). Among the expressed proteins:
# predicted side-effect proteins (|predicted change| > 0.1) vs the planted ones, the predicted direction vs the
# planted one, and the gradient's sign vs the planted sign (a model that learned the wiring has
# d protein / d RNA(CD52) < 0 where the planted effect is negative).

# %%
if ready and ctx.paths.truth_dir:
    links = a.planted_links(ctx.paths.truth_dir, PERT)
    tt, ts = a.truth_comparison(kp, links, grads)
    save_table(a.side_effect_truth(effects, links), "cdt3_truth_side_effect_links", ctx.out_dir)
    ctx.show(pc.truth_panels(tt, ts), "cdt3_truth_cd52_protein_wiring")
    nums.report(a.wiring_findings(ts, a.truth_comparison(kc, links)[1]))
    ctx.table(tt, "cdt3_truth_cd52_protein_wiring")
elif ready:
    display(Markdown("No simulated truth on this data source: the wiring comparison is skipped."))

# %%
nums.save()
display(nums.table()[["item", "quantity", "published", "value", "note"]])
