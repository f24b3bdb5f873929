"""docs/notebooks/: every notebook runs from its first cell to its last (nbclient, the
project's own kernel), so the researcher's worked path stays true to the code."""

from pathlib import Path

import pytest

nbclient = pytest.importorskip("nbclient", reason="make deps installs the dev extras")
nbformat = pytest.importorskip("nbformat")

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((REPO / "docs/notebooks").glob("*.ipynb"))


def test_there_is_a_notebook():
    assert [p.name for p in NOTEBOOKS] == ["captures_to_table2.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_notebook_runs_to_its_end(path):
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3",
                                     resources={"metadata": {"path": str(REPO)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "| 1st Infusion |" in text, text[-2000:]  # Table 2 printed
    assert any("image/png" in o.get("data", {}) for o in outputs)  # Fig. 2 drawn
