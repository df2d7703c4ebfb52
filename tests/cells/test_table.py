"""Cell tables: every format reads the same, and every kind of bad input is named."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from graphpool.cells import read_cells


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "sample_id": ["a", "a", "a", "b", "b"],
            "cell": [0, 1, 2, 0, 1],
            "px": [0.0, 1.0, 2.0, 0.0, 5.0],
            "py": [0.0, 0.0, 1.0, 3.0, 3.0],
            "kind": ["T", "B", "T", "B", "B"],
            "outcome": [1, 1, 1, 0, 0],
            "donor": ["d1", "d1", "d1", "d2", "d2"],
            "CD8": [0.5, 1.0, 0.0, 2.0, 3.0],
        }
    )


NAMES = {"x": "px", "y": "py", "cell_type": "kind", "sample": "sample_id", "label": "outcome"}


def test_reads_and_describes_a_table() -> None:
    table = read_cells(_frame(), **NAMES, group="donor", cell_id="cell", markers=["CD8"])
    assert table.cell_types == ["B", "T"] and table.samples == ["a", "b"] and table.classes == [0, 1]
    assert table.markers == ["CD8"]
    assert table.sample_table.to_dict("list") == {
        "sample": ["a", "b"],
        "cells": [3, 2],
        "label": [1, 0],
        "group": ["d1", "d2"],
    }
    assert table.frame["x"].dtype == np.float64


def test_csv_tsv_parquet_and_anndata_read_the_same(tmp_path: Path) -> None:
    frame = _frame()
    frame.to_csv(tmp_path / "cells.csv", index=False)
    frame.to_csv(tmp_path / "cells.tsv", sep="\t", index=False)
    frame.to_parquet(tmp_path / "cells.parquet")
    reference = read_cells(frame, **NAMES, markers=["CD8"]).frame
    for name in ("cells.csv", "cells.tsv", "cells.parquet"):
        pd.testing.assert_frame_equal(read_cells(tmp_path / name, **NAMES, markers=["CD8"]).frame, reference)
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(
        X=frame[["CD8"]].to_numpy(),
        obs=frame[["sample_id", "kind", "outcome"]].set_index(pd.Index([str(i) for i in range(5)])),
        obsm={"spatial": frame[["px", "py"]].to_numpy()},
    )
    adata.var_names = ["CD8"]
    from_adata = read_cells(adata, cell_type="kind", sample="sample_id", label="outcome", markers=["CD8"]).frame
    pd.testing.assert_frame_equal(from_adata[reference.columns], reference)
    adata.write_h5ad(tmp_path / "cells.h5ad")
    from_file = read_cells(
        tmp_path / "cells.h5ad", cell_type="kind", sample="sample_id", label="outcome", markers=["CD8"]
    )
    pd.testing.assert_frame_equal(from_file.frame[reference.columns], reference)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f.drop(columns="kind"), r"column\(s\) \['kind'\] not in the cell table"),
        (lambda f: f.assign(px=["0", "1", "x", "3", "4"]), r"column 'px' must be numeric; rows 2 hold 'x'"),
        (lambda f: f.assign(py=[0.0, np.nan, 1.0, 2.0, np.nan]), r"column 'py' has missing values .* rows 1, 4"),
        (lambda f: f.assign(kind=["T", None, "T", "B", "B"]), r"column 'kind' has missing values .* rows 1"),
        (
            lambda f: f.assign(cell=[0, 1, 1, 0, 1]),
            r"column 'cell' repeats cell ids within a sample \(e.g. 'a'\): rows 1, 2",
        ),
        (
            lambda f: f.assign(outcome=[1, 0, 1, 0, 0]),
            r"column 'outcome' must hold one value per sample.*'a' has \[0, 1\]",
        ),
        (  # the odd cell first: it named every other cell of the sample as differing "from its first cell"
            lambda f: f.assign(outcome=[0, 1, 1, 0, 0]),
            r"'a' has \[0, 1\] \(rows 0 differ from the value of most of its cells, 1\)",
        ),
        (lambda f: f.assign(donor=["d1", "d1", "d1", "d2", "d3"]), r"column 'donor' must hold one value per sample"),
        (lambda f: f.iloc[:0], "the cell table has no rows"),
        (lambda f: f.assign(px=[0.0, 1.0, 2.0, np.inf, 4.0]), r"column 'px' has infinite values in rows 3"),
        (lambda f: f.assign(CD8=[0.0, -np.inf, 2.0, 1.0, 4.0]), r"column 'CD8' has infinite values in rows 1"),
    ],
)
def test_bad_tables_name_the_column_and_rows(change, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_cells(change(_frame()), **NAMES, group="donor", cell_id="cell", markers=["CD8"])


def test_missing_file_and_missing_features(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        read_cells(tmp_path / "nope.csv")
    with pytest.raises(FileNotFoundError, match="is a folder, not a file"):  # it said "does not exist"
        read_cells(tmp_path)
    with pytest.raises(ValueError, match="give 'cell_type' or 'markers'"):
        read_cells(_frame(), **{**NAMES, "cell_type": None})
    with pytest.raises(ValueError, match=r"column\(s\) \['CD4'\] not in the cell table"):
        read_cells(_frame(), **NAMES, markers=["CD4"])


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("empty.csv", b""),  # pandas' "No columns to parse from file", naming no file
        ("binary.csv", b"\xff\xfe\x00garbage"),  # "'utf-8' codec can't decode byte 0xff", naming no file
        ("ragged.csv", b"a\nb\nc,d,e\n"),  # "Error tokenizing data. C error: ...", naming no file
        ("shifted.csv", b"x,y\n1,2,3\n"),  # every row one field longer than the header: read as x=2, y=3
        ("broken.parquet", b"not a parquet file"),
    ],
)
def test_an_unreadable_file_is_named(tmp_path: Path, name: str, content: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"cell table '.*{name}' cannot be read as a (CSV|Parquet) file: .+"):
        read_cells(path)


def test_rows_ending_in_a_comma_the_header_lacks_read_unshifted(tmp_path: Path) -> None:
    """Each row's first field became the index and every column took its right neighbour's values."""
    path = tmp_path / "cells.csv"
    path.write_text("x,y,cell_type\n0.0,1.0,T,\n2.0,3.0,B,\n")
    table = read_cells(path, sample=None, label=None)
    assert table.frame["x"].tolist() == [0.0, 2.0] and table.frame["cell_type"].tolist() == ["T", "B"]


def test_all_markers_are_the_columns_not_named_otherwise() -> None:
    table = read_cells(_frame(), **NAMES, group="donor", cell_id="cell", markers="all")
    assert table.markers == ["CD8"]
    with pytest.raises(ValueError, match="column 'CD8' must be numeric"):
        read_cells(_frame().assign(CD8=["a", "1", "2", "3", "4"]), **NAMES, markers=["CD8"])


def test_a_table_without_a_sample_column_is_one_sample() -> None:
    frame = _frame().drop(columns="sample_id")
    table = read_cells(frame, **{**NAMES, "sample": None, "label": None})
    assert table.samples == ["all"] and (table.frame["sample"] == "all").all()
    with pytest.raises(ValueError, match="sample_id"):  # asked for by name, and missing: still an error
        read_cells(frame, **{**NAMES, "label": None})


# 14. positions in 3-D are refused, not cut to 2-D
def test_three_dimensional_positions_are_refused() -> None:
    anndata = pytest.importorskip("anndata")
    adata = anndata.AnnData(obs=pd.DataFrame({"sample": ["a"] * 4}, index=list("0123")))
    adata.obsm["spatial"] = np.random.default_rng(0).random((4, 3))
    with pytest.raises(ValueError, match=r"obsm\['spatial'\] has shape \(4, 3\).*3-D positions"):
        read_cells(adata, label=None)


# integer cell types sort as numbers
def test_integer_cell_types_sort_as_numbers() -> None:
    frame = _frame()
    frame["kind"] = [0, 10, 2, 1, 10]
    table = read_cells(frame, **NAMES)
    assert table.cell_types == ["0", "1", "2", "10"]
    frame["kind"] = ["T", "B", "10", "2", "B"]  # not all numbers: text order
    assert read_cells(frame, **NAMES).cell_types == ["10", "2", "B", "T"]


# a column plays one role: the label among the markers would leak it into the features
@pytest.mark.parametrize(
    ("names", "message"),
    [
        ({"y": "px"}, r"column 'px' is given as both 'x' and 'y'"),
        ({"markers": ["CD8", "outcome"]}, r"column 'outcome' is given as both 'label' and a marker"),
        ({"markers": ["px"]}, r"column 'px' is given as both 'x' and a marker"),
        ({"label": "sample_id"}, r"column 'sample_id' is given as both 'sample' and 'label'"),
        ({"group": "outcome"}, r"column 'outcome' is given as both 'label' and 'group'"),
        ({"cell_type": "outcome"}, r"column 'outcome' is given as both 'cell_type' and 'label'"),
        ({"markers": ["CD8", "CD8"]}, r"'markers' names 'CD8' twice"),
        ({"markers": "CD8"}, r"'markers' must be 'all' or a list of column names, got the string 'CD8'"),
    ],
)
def test_a_column_has_one_role(names: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        read_cells(_frame(), **{**NAMES, **names})


def test_the_sample_column_may_be_the_group() -> None:
    table = read_cells(_frame(), **NAMES, group="sample_id")  # grouping by sample is no grouping: harmless
    assert table.sample_table["group"].tolist() == ["a", "b"]


# values the float32 graph cannot hold are refused, not made infinite
@pytest.mark.parametrize("column", ["px", "CD8"])
def test_values_beyond_float32_are_refused(column: str) -> None:
    frame = _frame()
    frame[column] = [0.0, 1e39, 2.0, 3.0, -1e300]
    with pytest.raises(ValueError, match=rf"column '{column}' has values beyond float32's range .* rows 1, 4"):
        read_cells(frame, **NAMES, markers=["CD8"])


# names that are equal as text (1 and '1') would merge two samples or two cell types
@pytest.mark.parametrize("column", ["sample_id", "kind"])
def test_values_equal_as_text_are_refused(column: str) -> None:
    frame = _frame()
    frame["outcome"] = 0
    frame[column] = pd.Series([1, 1, 1, "1", "1"], dtype=object)
    with pytest.raises(ValueError, match=rf"column '{column}' holds different values written alike: 1 and '1'"):
        read_cells(frame, **NAMES)


def test_labels_of_two_types_are_refused() -> None:
    frame = _frame()
    frame["outcome"] = pd.Series([1, 1, 1, "b", "b"], dtype=object)
    with pytest.raises(ValueError, match=r"column 'outcome' mixes value types \(int, str\)"):
        read_cells(frame, **NAMES)


# markers="all" on a table with a text annotation column (a region, a patient's name) failed with "column
# 'region' must be numeric", with no word that "all" had made it a marker
def test_markers_all_says_how_to_leave_out_a_text_column() -> None:
    from graphpool.cells import simulate

    frame = simulate("presence", samples=3, seed=0)  # with a text column 'region'
    with pytest.raises(ValueError, match=r"column 'region' must be numeric.*markers 'all' takes every column"):
        read_cells(frame, markers="all")
    with pytest.raises(ValueError, match=r"column 'region' must be numeric; rows [^;]*$"):  # named: no hint
        read_cells(frame, markers=["region"])


# complex values lost their imaginary part with only numpy's ComplexWarning; dates and durations became
# nanoseconds since 1970 (1.6e18 as a coordinate)
@pytest.mark.parametrize(
    ("column", "values", "kind"),
    [
        ("px", [1 + 2j, 1, 2, 3, 4], "complex"),
        ("CD8", [1 + 2j, 1, 2, 3, 4], "complex"),
        ("py", pd.to_datetime(["2020-01-01"] * 5), "dates"),
        ("CD8", pd.to_timedelta([1, 2, 3, 4, 5], unit="s"), "durations"),
    ],
)
def test_complex_dates_and_durations_are_not_numbers(column: str, values, kind: str) -> None:
    frame = _frame()
    frame[column] = values
    with pytest.raises(ValueError, match=rf"column '{column}' must hold real numbers, not {kind}"):
        read_cells(frame, **NAMES, markers=["CD8"])


# a DataFrame with two columns of one name (concatenated tables) failed inside pandas: "Per-column arrays must
# each be 1-dimensional"
@pytest.mark.parametrize("name", ["px", "kind", "CD8"])
def test_a_column_name_held_twice_is_named(name: str) -> None:
    frame = _frame()
    frame.insert(len(frame.columns), name, frame[name], allow_duplicates=True)
    with pytest.raises(ValueError, match=rf"the cell table has 2 columns named '{name}'"):
        read_cells(frame, **NAMES, markers=["CD8"])
    if name == "CD8":  # not "'markers' names 'CD8' twice": "all" named nothing
        with pytest.raises(ValueError, match=r"the cell table has 2 columns named 'CD8'"):
            read_cells(frame.drop(columns=["cell", "donor"]), **NAMES, markers="all")


# a list, a dict or None for the table was os.fspath's "expected str, bytes or os.PathLike object, not list"
@pytest.mark.parametrize("source", [[1, 2], {"x": [1.0]}, None, 3])
def test_a_source_that_is_no_table_is_named(source) -> None:
    with pytest.raises(
        TypeError, match=rf"'source' must be a path, a pandas DataFrame or an AnnData, got {type(source).__name__}"
    ):
        read_cells(source)
