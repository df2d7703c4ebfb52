"""The figures' files: what `graphpool cells` and `graphpool neighbourhoods` write for a paper."""

import time
from pathlib import Path

import pytest

from graphpool.cells.figures import save
from graphpool.experiment import pyplot


# a PDF or SVG held the time it was written (CreationDate, dc:date): the same run wrote other bytes each time, so
# a folder of results could not be compared with an earlier one, nor kept under version control without churn
@pytest.mark.parametrize("fmt", ["png", "pdf", "svg"])
def test_a_figure_saved_twice_is_the_same_file(tmp_path: Path, fmt: str) -> None:
    written = []
    for name in ("first", "second"):
        figure, axes = pyplot().subplots()
        axes.plot([0, 1, 2], [1, 0, 2])
        (path,) = save(figure, tmp_path / name, formats=(fmt,))
        written.append(path.read_bytes())
        time.sleep(1.1 if fmt != "png" else 0)  # the dates written had a resolution of one second
    assert written[0] == written[1]
