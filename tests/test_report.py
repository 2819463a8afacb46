from pathlib import Path

import pandas as pd
import pytest
from cdt.published import published_value
from cdt.report import Numbers, collect_numbers, markdown_table, write_report


def test_numbers_round_trip_into_report(tmp_path):
    nums = Numbers("02_prediction", tmp_path, "synthetic (tiny, seed 0)", "paper")
    key = ("CDT-II", "Fig 3A", "overall Pearson r (cells x genes)")
    assert nums.add(key=key, value=0.123456, file="cdt2_fig3a.png") == 0.123456
    nums.add(key=("CDT-II", "Fig 6A", "gene x mark pairs with P < 1e-3 (of testable)"), value="3/24")
    nums.save()
    nums.save()  # saving twice rewrites, never duplicates
    table = collect_numbers(tmp_path)
    assert len(table) == 2 and set(table["notebook"]) == {"02_prediction"}
    pd.DataFrame({"gene": ["GFI1B"], "r": [0.88]}).to_csv(tmp_path / "tables" / "per_gene.csv", index=False)
    report = write_report(tmp_path, {"data": "synthetic (tiny, seed 0)"}, {"total": 12.5}).read_text()
    assert "## CDT-II" in report and "| Fig 3A | overall Pearson r (cells x genes) | 0.64 | 0.123 |" in report
    assert "| Fig 6A | gene x mark pairs with P < 1e-3 (of testable) | 23/24 | 3/24 |" in report
    assert "### per_gene" in report and "| total | 12.5 |" in report
    assert "synthetic" in report
    assert "layout problems" not in report
    (tmp_path / "figures").mkdir()
    (tmp_path / "figures" / "cdt2_fig3a.layout.txt").write_text(
        "text 'A' overlaps text 'B'\nlegend of a panel covers 2 data point(s)\n"
    )
    report = write_report(tmp_path, {"data": "synthetic (tiny, seed 0)"}).read_text()
    assert "## Figures with layout problems" in report
    assert "- cdt2_fig3a: text 'A' overlaps text 'B'; legend of a panel covers 2 data point(s)" in report


def test_markdown_formats_numbers_and_truncates():
    df = pd.DataFrame({"a": [21072185.0, 3.5e-17, float("nan")], "b": ["x|y", "1.6727272727", "7"]})
    md = markdown_table(df, max_rows=2)
    assert "21,072,185" in md and "3.50e-17" in md and "x\\|y" in md and "1.67" in md
    assert "1 more rows" in md


def test_numbers_take_the_published_value_from_the_registry_by_key():
    nums = Numbers("03_gfi1b_network", Path("."), "synthetic (tiny, seed 0)", "paper")
    with pytest.raises(TypeError):
        nums.add(("CDT-II", "Fig 4E", "mean pairwise r of GFI1B attention rows"), 0.5)  # keyword-only
    nums.add(key=("CDT-II", "Fig 4E", "mean pairwise r of GFI1B attention rows"), value=0.5, detail="171 cell pairs")
    nums.add(key=("beyond the papers", "baselines", "ridge r"), value=1.0)
    rows = nums.table()
    assert rows["quantity"].tolist() == ["mean pairwise r of GFI1B attention rows, 171 cell pairs", "ridge r"]
    assert rows["published"].tolist()[0] == 0.75 and rows["published"].isna().tolist() == [False, True]


def test_summary_counts_reproduced_differing_and_untestable_numbers_per_paper():
    from cdt.report import compare_numbers, summary_lines

    numbers = pd.DataFrame(
        {
            "paper": ["CDT-II", "CDT-II", "CDT-II", "CDT-III", "CDT-III", "CDT-III"],
            "item": ["Fig 2A", "Fig 3A", "Fig 6A", "Table 1", "Table 2", "Fig 4"],
            "quantity": ["val r", "r", "odds ratio", "r", "count", "note only"],
            "published": [0.64, 0.64, 201.0, 0.85, 40, None],
            "value": [0.60, 0.50, 190.0, None, 30, 1.0],
        }
    )
    rows = compare_numbers(numbers).set_index("item")
    p_values = pd.DataFrame(
        {"paper": ["CDT-II"] * 2, "item": ["text", "Fig 5C"], "quantity": ["hypergeometric P", "overlap (P value)"]}
    ).assign(published=[3.5e-17, 1e-4], value=[1.0, 5e-4])
    # compared in orders of magnitude: 17 (differs, ranked by it) and 0.7 (reproduced)
    assert compare_numbers(p_values)["gap"].round(2).tolist() == [16.46, 0.7]
    # |0.60-0.64| = 0.04 <= 0.05; |0.50-0.64| = 0.14 > 0.05; |190-201| = 11 <= 20.1; no value; |30-40| = 10 > 4
    assert rows["status"].to_dict() == {
        "Fig 2A": "reproduced",
        "Fig 3A": "differs",
        "Fig 6A": "reproduced",
        "Table 1": "not testable",
        "Table 2": "differs",
    }
    assert rows.loc["Table 2", "gap"] == pytest.approx(10 / 4.0)
    text = "\n".join(summary_lines(numbers))
    assert "| CDT-II | 3 | 2 | 1 | 0 |" in text and "| CDT-III | 2 | 0 | 1 | 1 |" in text
    # ranked by difference over tolerance: 0.14 / 0.05 = 2.8 before 10 / 4 = 2.5
    assert "1. CDT-II Fig 3A, r: published 0.64, here 0.5\n2. CDT-III Table 2, count: published 40, here 30" in text


def test_numbers_report_records_findings_rows_in_order_and_shows_the_text(monkeypatch):
    import IPython.display
    from cdt.analyses import Findings

    shown = []
    monkeypatch.setattr(IPython.display, "display", shown.append)

    f = Findings(text="**2/3** agree")
    f.add(("CDT-III", "Fig 4C", "direction agreement (count)"), 2, "fig.png", "of 3")
    f.add(("Beyond the papers", "x", "y"), 0.5)
    nums = Numbers("06_cd52_side_effects", Path("."), "synthetic (tiny, seed 0)", "paper")
    nums.report(f)
    t = nums.table()
    assert t["quantity"].tolist() == ["direction agreement (count)", "y"]
    assert t["value"].tolist() == [2, 0.5] and t["published"].tolist()[0] == 29  # from the registry by key
    assert (t.loc[0, "file"], t.loc[0, "note"], t.loc[1, "file"]) == ("fig.png", "of 3", "")
    assert [m.data for m in shown] == ["**2/3** agree"]
    nums.report(Findings())  # no text: nothing shown, nothing recorded
    assert len(shown) == 1 and len(nums.rows) == 2


def test_seed_spread_takes_mean_and_range_of_each_row_over_seeds(tmp_path):
    from cdt.report import seed_spread_table, write_seed_report

    dirs = {}
    for seed, (r, n_pairs) in {0: (0.30, 171), 1: (0.10, 165), 2: (0.20, 180)}.items():
        nums = Numbers("02_prediction", tmp_path / f"seed{seed}", f"synthetic (mini, seed {seed})")
        nums.add(key=("CDT-II", "Fig 2A", "val r, curated gene set (best checkpoint)"), value=r)
        nums.add(key=("beyond", "text", "pairs"), value=float(n_pairs), detail=f"{n_pairs} cell pairs")
        if seed != 1:
            nums.add(key=("beyond", "text", "only where defined"), value=None)
        nums.save()
        dirs[seed] = tmp_path / f"seed{seed}"
    spread = seed_spread_table({s: collect_numbers(d) for s, d in dirs.items()})
    first = spread.iloc[0]
    assert (first["quantity"], first["n"]) == ("val r, curated gene set (best checkpoint)", 3)
    assert (first["mean"], first["min"], first["max"]) == pytest.approx((0.2, 0.1, 0.3))
    assert first["published"] == published_value(("CDT-II", "Fig 2A", "val r, curated gene set (best checkpoint)"))
    pairs = spread[spread["quantity"] == "pairs"].iloc[0]  # the detail differs by seed; the row is one
    assert (pairs["mean"], pairs["n"]) == (pytest.approx(172.0), 3)
    assert "only where defined" not in set(spread["quantity"])  # no seed gave it a number
    report = write_seed_report(tmp_path, {"seeds": "0, 1, 2"}, dirs).read_text()
    assert "- seed 1: [seed1/REPORT.md](seed1/REPORT.md)" in report
    assert (tmp_path / "tables" / "seed_spread.csv").exists()
