"""Molecules as graphs (RDKit): atom and bond features, the embedded solubility set, SMILES CSVs.

Hydrogens stay implicit: they are not nodes but a feature of their heavy atom.
Atom features (one-hot unless noted): element (12 common ones + other), degree (0..5, 6+),
formal charge (-2..+2), aromatic (0/1), hybridisation (sp, sp2, sp3, sp3d, sp3d2, other),
in a ring (0/1), attached hydrogens (0..3, 4+), chirality (RDKit's chiral tag: none, clockwise,
counter-clockwise, other): 42 columns. Bond features: type (single, double, triple, aromatic),
conjugated, in a ring, stereo (none, Z, E, other): 10 columns. Each chemical bond is two directed edges.
"""

from __future__ import annotations

import csv
import gzip
import importlib.resources
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor
from torch_geometric.data import Data

from graphpool.ops.ranges import Range, check_not_one_string

ELEMENTS = ("C", "N", "O", "S", "F", "Cl", "Br", "I", "P", "B", "Si", "Se")
#: attached hydrogen counts with their own column (more: the "4+" column)
HYDROGENS = (0, 1, 2, 3)
SOLUBILITY_CLASSES = ("(A) low", "(B) medium", "(C) high")


def _one_hot(value: object, choices: tuple, other: bool = True) -> list[float]:
    hot = [float(value == choice) for choice in choices]
    return hot + [float(not any(hot))] if other else hot


def atom_features(atom) -> list[float]:
    from rdkit.Chem import ChiralType as C
    from rdkit.Chem import HybridizationType as H

    hybridisations = (H.SP, H.SP2, H.SP3, H.SP3D, H.SP3D2)
    chirality = (C.CHI_UNSPECIFIED, C.CHI_TETRAHEDRAL_CW, C.CHI_TETRAHEDRAL_CCW)
    return (
        _one_hot(atom.GetSymbol(), ELEMENTS)
        + _one_hot(min(atom.GetDegree(), 6), tuple(range(6)))
        + _one_hot(max(-2, min(2, atom.GetFormalCharge())), (-2, -1, 0, 1, 2), other=False)
        + [float(atom.GetIsAromatic())]
        + _one_hot(atom.GetHybridization(), hybridisations)
        + [float(atom.IsInRing())]
        + _one_hot(atom.GetTotalNumHs(), HYDROGENS)
        + _one_hot(atom.GetChiralTag(), chirality)
    )


def bond_features(bond) -> list[float]:
    from rdkit.Chem import BondStereo as S
    from rdkit.Chem import BondType as B

    kinds = (B.SINGLE, B.DOUBLE, B.TRIPLE, B.AROMATIC)
    stereo = (S.STEREONONE, S.STEREOZ, S.STEREOE)
    return (
        _one_hot(bond.GetBondType(), kinds, other=False)
        + [float(bond.GetIsConjugated()), float(bond.IsInRing())]
        + _one_hot(bond.GetStereo(), stereo)
    )


#: width of an atom's feature vector (element, degree, charge, aromatic, hybridisation, ring, hydrogens, chirality)
NUM_ATOM_FEATURES = len(ELEMENTS) + 1 + 7 + 5 + 1 + 6 + 1 + len(HYDROGENS) + 1 + 4
#: width of a bond's feature vector (bond type one-hot, conjugated, in a ring, stereo)
NUM_BOND_FEATURES = 10


def mol_to_graph(mol, y: int | None = None) -> Data:
    """An RDKit molecule as a PyG ``Data`` (``x [n, 42]``, ``edge_index``, ``edge_attr [2m, 10]``, ``y``)."""
    from rdkit import Chem

    if not isinstance(mol, Chem.Mol):
        raise TypeError(
            f"'mol' must be an RDKit molecule, got {mol!r} (RDKit returns None for a SMILES it cannot parse)"
            if mol is None
            else f"'mol' must be an RDKit molecule, got {type(mol).__name__}"
        )

    x = torch.tensor([atom_features(atom) for atom in mol.GetAtoms()], dtype=torch.float32).reshape(
        -1, NUM_ATOM_FEATURES
    )
    pairs, attrs = [], []
    for bond in mol.GetBonds():
        i, j = bond.GetBeginAtomIdx(), bond.GetEndAtomIdx()
        features = bond_features(bond)
        pairs += [(i, j), (j, i)]
        attrs += [features, features]
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    edge_attr = torch.tensor(attrs, dtype=torch.float32).reshape(-1, NUM_BOND_FEATURES)
    data = Data(x=x, edge_index=edge_index, edge_attr=edge_attr, smiles=Chem.MolToSmiles(mol))
    if y is not None:
        data.y = torch.tensor([y])
    return data


def smiles_to_graph(smiles: str, y: int | None = None) -> Data:
    """Parse a SMILES string; a ``ValueError`` names it when RDKit cannot."""
    return mol_to_graph(_mol(smiles), y)


@dataclass
class MoleculeSet:
    """Molecule graphs with targets ``y``: class indices into ``classes``, or numbers (regression: no classes)."""

    graphs: list[Data]
    classes: tuple[str, ...]
    splits: dict[str, Tensor] = field(default_factory=dict)  # given splits, e.g. "train"/"test" indices
    skipped: list[tuple[int, str]] = field(default_factory=list)  # (row, reason) of skipped entries

    def __len__(self) -> int:
        return len(self.graphs)


def _check_task(task: str) -> None:
    if task not in ("classification", "regression"):
        raise ValueError(f"'task' must be 'classification' or 'regression', got {task!r}")


def load_solubility(task: str = "classification") -> MoleculeSet:
    """The Huuskonen aqueous-solubility set (1,282 molecules), shipped inside graphpool.

    Read from ``graphpool/data/solubility.csv.gz`` (``id, name, smiles, log_s, class, split``; see
    datasets/solubility.md). Each graph has ``log_s`` (``[1]``, log S in mol/L), ``smiles``, and
    ``y``: the class of 3 (``task="classification"``) or log S itself (``"regression"``, float ``[1]``).
    ``splits`` holds the given train (1,025) / test (257) split. No network is used.
    """
    _check_task(task)
    with importlib.resources.files("graphpool.data").joinpath("solubility.csv.gz").open("rb") as raw:
        rows = list(csv.DictReader(io.TextIOWrapper(gzip.GzipFile(fileobj=raw), encoding="utf-8")))
    graphs: list[Data] = []
    for row in rows:
        graph = smiles_to_graph(row["smiles"])  # sets graph.smiles
        graph.log_s = torch.tensor([float(row["log_s"])])
        graph.y = (
            graph.log_s.clone() if task == "regression" else torch.tensor([SOLUBILITY_CLASSES.index(row["class"])])
        )
        graphs.append(graph)
    splits = {
        split: torch.tensor([i for i, row in enumerate(rows) if row["split"] == split]) for split in ("train", "test")
    }
    return MoleculeSet(graphs, SOLUBILITY_CLASSES if task == "classification" else (), splits)


def load_smiles_csv(
    path: str | Path,
    smiles_col: str = "smiles",
    label_col: str = "label",
    on_error: str = "fail",
    task: str = "classification",
) -> MoleculeSet:
    """Molecules from a CSV with a SMILES column and a label column.

    Classification: labels are mapped to ``0..C-1`` in sorted order. Labels that are numbers
    compare as numbers: ``1``, ``1.0`` and ``01`` are one class, named ``"1"``; text labels
    compare as text. Regression: every label must be a finite number within float32's range, ``y`` is it
    as a float32 ``[1]``.
    ``on_error="fail"`` raises one ``ValueError`` listing every row (1-based, header = row 1)
    whose SMILES is empty or cannot be parsed by RDKit, whose label is empty, NaN or infinite (under
    regression also: not a number or beyond float32), or which has more fields than the header;
    ``"skip"`` leaves them out and records them in ``MoleculeSet.skipped``. Nothing is dropped silently.
    """
    if on_error not in ("fail", "skip"):
        raise ValueError(f"'on_error' must be 'fail' or 'skip', got {on_error!r}")
    _check_task(task)
    with open(path, newline="", encoding="utf-8-sig") as handle:  # -sig: a leading byte order mark (Excel) is dropped
        reader = csv.DictReader(handle)
        try:
            columns = reader.fieldnames
            rows = list(reader)
        except UnicodeDecodeError as error:
            raise ValueError(f"{path} is not UTF-8 text ({error})") from error
    if columns is None:
        raise ValueError(f"{path} is empty: it has no header row (expected columns {smiles_col!r}, {label_col!r})")
    missing = [c for c in (smiles_col, label_col) if c not in columns]
    if missing:
        raise ValueError(f"{path}: no column(s) {missing}; the columns are {columns}")
    parsed, problems = [], []
    for number, row in enumerate(rows, start=2):
        text = (row[label_col] or "").strip()
        smiles = (row[smiles_col] or "").strip()
        if None in row:  # csv's key of the fields beyond the header's
            problems.append((number, f"{len(columns) + len(row[None])} fields, but the header names {len(columns)}"))
            continue
        if not smiles:
            problems.append((number, f"empty SMILES in column {smiles_col!r}"))
            continue
        if not text:
            problems.append((number, f"empty label in column {label_col!r}"))
            continue
        value = _number(text)
        if task == "classification" and value is not None and not math.isfinite(value):  # NaN: pandas', R's missing
            what = "is a missing value (NaN)" if math.isnan(value) else "is not finite"
            problems.append((number, f"label {text!r} in column {label_col!r} {what}"))
            continue
        if task == "regression" and not is_finite_number(text):
            problems.append((number, f"label {text!r} in column {label_col!r} is not a finite number"))
            continue
        if task == "regression" and abs(float(text)) > FLOAT32_MAX:  # y is float32: it would become inf
            problems.append((number, f"label {text!r} in column {label_col!r} is beyond float32's range (3.4e38)"))
            continue
        try:
            parsed.append((smiles_to_graph(smiles), text))
        except ValueError as error:
            problems.append((number, str(error)))
    if problems and on_error == "fail":
        listing = "; ".join(f"row {n}: {reason}" for n, reason in problems[:20])
        more = f" (and {len(problems) - 20} more)" if len(problems) > 20 else ""
        raise ValueError(f"{path}: {len(problems)} unusable row(s): {listing}{more}. Pass on_error='skip' to skip them")
    if not parsed:
        raise ValueError(f"{path}: no molecules (the file has {len(rows)} data row(s), none usable)")
    if task == "regression":
        for graph, text in parsed:
            graph.y = torch.tensor([float(text)])
        return MoleculeSet([graph for graph, _ in parsed], (), skipped=problems)
    labels = sorted({_label(text) for _, text in parsed}, key=_label_order)
    for graph, text in parsed:
        graph.y = torch.tensor([labels.index(_label(text))])
    return MoleculeSet([graph for graph, _ in parsed], tuple(labels), skipped=problems)


#: the largest float32: a regression target is stored as one
FLOAT32_MAX = float(torch.finfo(torch.float32).max)


def is_finite_number(text: str) -> bool:
    """Whether ``text`` reads as a finite number (``"2.5"``, ``"1e3"``; not ``"nan"``, ``"inf"`` or ``"active"``)."""
    value = _number(text)
    return value is not None and math.isfinite(value)


def _number(text: str) -> float | None:
    """``text`` as a number (``"inf"`` and ``"nan"`` included), or ``None`` when it is none."""
    try:
        return float(text)
    except ValueError:
        return None


def _label(text: str) -> str:
    """A number's canonical spelling (``"1.0"``, ``"01"`` -> ``"1"``; ``"2.50"`` -> ``"2.5"``), else the text."""
    value = _number(text)
    if value is None or not math.isfinite(value):
        return text
    return str(int(value)) if value.is_integer() else repr(value)


def _label_order(label: str) -> tuple[int, float | str]:
    try:
        return (0, float(label))
    except ValueError:
        return (1, label)


def _mol(smiles: str):
    from rdkit import Chem, RDLogger

    if not isinstance(smiles, str):
        raise TypeError(f"a SMILES must be a str, got {type(smiles).__name__}")
    RDLogger.DisableLog("rdApp.*")  # type: ignore[attr-defined]  # (RDKit's stubs miss it)
    mol = Chem.MolFromSmiles(smiles)
    if mol is None:
        raise ValueError(f"RDKit cannot parse the SMILES {smiles!r}")
    if mol.GetNumAtoms() == 0:  # RDKit parses "" as a molecule without atoms
        raise ValueError(f"the SMILES {smiles!r} holds no atoms")
    return mol


def scaffolds(smiles: Sequence[str]) -> list[str]:
    """The Bemis-Murcko scaffold (RDKit's ``MurckoScaffoldSmiles``, no chirality) of every molecule.

    The scaffold is the ring systems and the linkers between them; acyclic molecules have the empty
    scaffold ``""`` and form one group, as in chemprop's and DeepChem's scaffold splits.
    """
    from rdkit.Chem.Scaffolds import MurckoScaffold

    check_not_one_string("'smiles'", smiles, "SMILES strings")
    return [MurckoScaffold.MurckoScaffoldSmiles(mol=_mol(s), includeChirality=False) for s in smiles]


def morgan_counts(smiles: Sequence[str], radius: int = 2, bits: int = 2048) -> np.ndarray:
    """``[molecules, bits]`` Morgan (ECFP4 at radius 2) count fingerprints, RDKit's generator API, float32."""
    from rdkit.Chem import rdFingerprintGenerator

    check_not_one_string("'smiles'", smiles, "SMILES strings")
    Range(0, whole=True).check("radius", radius)
    Range(1, whole=True).check("bits", bits)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=radius, fpSize=bits)
    rows = [generator.GetCountFingerprintAsNumPy(_mol(s)) for s in smiles]
    return np.stack(rows).astype(np.float32) if rows else np.zeros((0, bits), dtype=np.float32)
