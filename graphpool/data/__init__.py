"""Datasets: TU benchmarks from local raw folders (with the GIN folds) and molecules."""

from graphpool.data.molecules import (
    NUM_ATOM_FEATURES,
    NUM_BOND_FEATURES,
    MoleculeSet,
    load_smiles_csv,
    load_solubility,
    mol_to_graph,
    smiles_to_graph,
)
from graphpool.data.tu import default_cache, gin_folds, load_tu

__all__ = [
    "NUM_ATOM_FEATURES",
    "NUM_BOND_FEATURES",
    "MoleculeSet",
    "default_cache",
    "gin_folds",
    "load_smiles_csv",
    "load_solubility",
    "load_tu",
    "mol_to_graph",
    "smiles_to_graph",
]
