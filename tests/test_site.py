"""The browsable report (`paper/index.html`) opens in a real headless browser and every image in it loads."""

import json
import re
import shutil
import subprocess

import matplotlib
import nbformat
import pandas as pd
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from cdt.report import write_site  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")

# loads index.html in a frame and writes, for every <img>, its src and whether it decoded to a picture
HARNESS = """<html><body><iframe id="page" src="index.html"></iframe><pre id="result">not loaded</pre><script>
document.getElementById("page").addEventListener("load", () => {
  const doc = document.getElementById("page").contentDocument;
  const images = [...doc.images].map(i => [i.getAttribute("src"), i.complete && i.naturalWidth > 0]);
  document.getElementById("result").textContent = JSON.stringify({title: doc.title, images: images});
});
</script></body></html>"""


def _site(out):
    (out / "notebooks").mkdir(parents=True)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# 01 — a notebook")])
    nbformat.write(nb, out / "notebooks" / "01_demo.ipynb")
    (out / "figures").mkdir()
    for name in ("cdt2_fig2ab_learning_curves", "cdt2_fig3b_per_gene_r"):
        fig, ax = plt.subplots(figsize=(2, 2))
        ax.plot([0, 1], [0, 1])
        fig.savefig(out / "figures" / f"{name}.png")
        plt.close(fig)
    (out / "tables").mkdir()
    pd.DataFrame({"gene": ["GFI1B"], "r": [0.8]}).to_csv(out / "tables" / "cdt2_fig3b_per_gene_r.csv", index=False)
    numbers = pd.DataFrame(
        {
            "paper": ["CDT-II"],
            "item": ["Fig 2A"],
            "quantity": ["val r, curated gene set"],
            "published": [0.64],
            "value": [0.61],
            "source": ["synthetic (tiny, seed 0)"],
            "protocol": ["paper"],
            "file": ["cdt2_fig2ab_learning_curves.png"],
            "note": [""],
            "notebook": ["01_demo"],
        }
    )
    numbers.to_csv(out / "tables" / "numbers_01_demo.csv", index=False)


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium)")
def test_index_html_opens_in_headless_chromium_and_every_image_loads(tmp_path):
    out = tmp_path / "paper"
    _site(out)
    index = write_site(out)
    text = index.read_text()
    assert "notebooks/01_demo.html" in text and (out / "notebooks" / "01_demo.html").exists()
    assert "<td>0.64</td><td>0.61</td>" in text
    assert "data: synthetic (tiny, seed 0)" in text and "tables/cdt2_fig3b_per_gene_r.csv" in text
    harness = out / "harness.html"
    harness.write_text(HARNESS)
    browser = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files"]
    browser += ["--virtual-time-budget=10000", "--dump-dom", harness.as_uri()]
    dom = subprocess.run(browser, capture_output=True, text=True, timeout=120, check=True).stdout
    result = json.loads(re.search(r'<pre id="result">(.*?)</pre>', dom, re.S).group(1))
    assert result["title"] == "CDT reproduction"
    assert sorted(result["images"]) == [
        ["figures/cdt2_fig2ab_learning_curves.png", True],
        ["figures/cdt2_fig3b_per_gene_r.png", True],
    ]
