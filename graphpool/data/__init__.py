"""Datasets: TU benchmarks from local raw folders (with the GIN folds), molecules, and a generated pooling benchmark."""

from graphpool.data.molecules import (
    NUM_ATOM_FEATURES,
    NUM_BOND_FEATURES,
    MoleculeSet,
    load_smiles_csv,
    load_solubility,
    mol_to_graph,
    morgan_counts,
    scaffolds,
    smiles_to_graph,
)
from graphpool.data.synthetic import NUM_CLASSES, NUM_PARTS, VARIANTS, pooling_benchmark, published_split
from graphpool.data.tu import default_cache, gin_folds, load_tu

__all__ = [
    "NUM_ATOM_FEATURES",
    "NUM_BOND_FEATURES",
    "NUM_CLASSES",
    "NUM_PARTS",
    "VARIANTS",
    "MoleculeSet",
    "default_cache",
    "gin_folds",
    "load_smiles_csv",
    "load_solubility",
    "load_tu",
    "mol_to_graph",
    "morgan_counts",
    "pooling_benchmark",
    "published_split",
    "scaffolds",
    "smiles_to_graph",
]
