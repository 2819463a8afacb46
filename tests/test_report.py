import pandas as pd
from cdt.report import Numbers, collect_numbers, markdown_table, write_report


def test_numbers_round_trip_into_report(tmp_path):
    nums = Numbers("02_prediction", tmp_path, "synthetic (tiny, seed 0)", "paper")
    assert nums.add("CDT-II", "Fig 3A", "overall r", 0.64, 0.123456, file="cdt2_fig3a.png") == 0.123456
    nums.add("CDT-II", "Fig 6A", "pairs P<1e-3", "23/24", "3/24")
    nums.save()
    nums.save()  # saving twice rewrites, never duplicates
    table = collect_numbers(tmp_path)
    assert len(table) == 2 and set(table["notebook"]) == {"02_prediction"}
    pd.DataFrame({"gene": ["GFI1B"], "r": [0.88]}).to_csv(tmp_path / "tables" / "per_gene.csv", index=False)
    report = write_report(tmp_path, {"data": "synthetic (tiny, seed 0)"}, {"total": 12.5}).read_text()
    assert "## CDT-II" in report and "| Fig 3A | overall r | 0.64 | 0.123 |" in report
    assert "| Fig 6A | pairs P<1e-3 | 23/24 | 3/24 |" in report
    assert "### per_gene" in report and "| total | 12.5 |" in report
    assert "synthetic" in report


def test_markdown_formats_numbers_and_truncates():
    df = pd.DataFrame({"a": [21072185.0, 3.5e-17, float("nan")], "b": ["x|y", "1.6727272727", "7"]})
    md = markdown_table(df, max_rows=2)
    assert "21,072,185" in md and "3.50e-17" in md and "x/y" in md and "1.67" in md
    assert "1 more rows" in md
