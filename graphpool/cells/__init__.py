"""Cell-interaction graphs: from a table of cells to an explained tissue classification.

- :func:`read_cells`: CSV/TSV/Parquet/DataFrame/AnnData -> a checked :class:`CellTable`;
- :func:`tissue_graphs` / :func:`neighbour_edges`: one kNN, radius or Delaunay graph per sample;
- :func:`to_networkx` / :func:`from_networkx`: the same graphs for networkx analyses;
- :func:`neighbourhoods`: tissue cellular neighbourhoods (composition k-means, UTAG-style, Louvain,
  learned by a GNN + sparse soft cluster pool), scored against annotated regions by :func:`agreement`;
- :func:`simulate`: tissues whose labels follow a known rule (count, proportion, presence, arrangement);
- :func:`analyse`: the whole workflow, explained per cell with :func:`graphpool.explain.node_scores`.
"""

from graphpool.cells.exchange import from_networkx, to_networkx
from graphpool.cells.graph import neighbour_edges, parse_graph, tissue_graphs
from graphpool.cells.neighbourhood import Neighbourhoods, agreement, neighbourhoods
from graphpool.cells.simulate import RULES, simulate
from graphpool.cells.table import CellTable, read_cells
from graphpool.cells.workflow import analyse, proportion_baseline, proportions

__all__ = [
    "RULES",
    "CellTable",
    "Neighbourhoods",
    "agreement",
    "analyse",
    "from_networkx",
    "neighbour_edges",
    "neighbourhoods",
    "parse_graph",
    "proportion_baseline",
    "proportions",
    "read_cells",
    "simulate",
    "tissue_graphs",
    "to_networkx",
]
