"""Pre-coarsening: levels computed once per graph collate like the levels computed on the batch."""

import pytest
import torch
from torch_geometric.data import Data
from torch_geometric.loader import DataLoader
from torch_geometric.utils import to_undirected

from graphpool.cluster import Coarsen, CoarsenedData, HierarchicalPool, Pool, PrecomputedSelect, pooler


def _graphs(count: int = 5) -> list[Data]:
    g = torch.Generator().manual_seed(0)
    graphs = []
    for n in torch.randint(5, 12, (count,), generator=g).tolist():
        ring = torch.arange(n)
        chords = torch.randint(0, n, (2, n // 2), generator=g)
        edge_index = to_undirected(torch.cat([torch.stack([ring, ring.roll(1)]), chords], 1))
        edge_index = edge_index[:, edge_index[0] != edge_index[1]]
        graphs.append(Data(x=torch.randn(n, 3, generator=g), edge_index=edge_index, cell_type=ring % 3))
    return graphs


@pytest.mark.parametrize("name", ["given", "graclus", "kmis"])
def test_precomputed_levels_collate_to_the_levels_of_the_batch(name: str) -> None:
    graphs = _graphs()
    levels = [pooler(name), pooler(name)]
    coarsen = Coarsen(levels, prefix="p_")
    batch = next(iter(DataLoader([coarsen(g) for g in graphs], batch_size=len(graphs))))
    labels = {"labels": batch.cell_type} if name == "given" else {}
    online = HierarchicalPool(levels)(batch.x, batch.edge_index, batch=batch.batch, **labels)
    stored = HierarchicalPool([Pool(PrecomputedSelect()), Pool(PrecomputedSelect())])
    x, edge_index, edge_weight, node_batch = batch.x, batch.edge_index, None, batch.batch
    for depth, level in enumerate(online.levels, start=1):
        cluster, cluster_batch = Coarsen.level(batch, depth, prefix="p_")
        assert torch.equal(cluster, level.assignment.cluster) and torch.equal(cluster_batch, level.batch)
        out = stored.levels[depth - 1](
            x, edge_index, edge_weight, node_batch, cluster=cluster, cluster_batch=cluster_batch
        )
        torch.testing.assert_close(out.x, level.x)
        assert torch.equal(out.edge_index, level.edge_index)
        x, edge_index, edge_weight, node_batch = out.x, out.edge_index, out.edge_weight, out.batch


def test_coarsen_errors() -> None:
    with pytest.raises(ValueError, match="learns its clusters: it cannot be precomputed"):
        Coarsen([pooler("mincut", in_channels=3, clusters=2)])
    with pytest.raises(ValueError, match="'levels' needs at least one pool"):
        Coarsen([])
    with pytest.raises(TypeError, match="'levels' takes graphpool.cluster pools or selectors, got str"):
        Coarsen("graclus")  # type: ignore[arg-type]  # (the error named 'select', an argument never passed)
    batch = next(iter(DataLoader([Coarsen([pooler("graclus")])(g) for g in _graphs(2)], batch_size=2)))
    with pytest.raises(ValueError, match="the batch has no cluster_2"):
        Coarsen.level(batch, 2)
    with pytest.raises(ValueError, match=r"'cluster' must be in \[0, 2\)"):
        PrecomputedSelect()(
            batch.x,
            batch.edge_index,
            batch.batch,
            2,
            cluster=torch.full_like(batch.batch, 5),
            cluster_batch=torch.tensor([0, 1]),
        )


# a graph without features failed with "'NoneType' object has no attribute 'size'"; a missing label attribute
# was named as a keyword the user never passed; level 0 asked for "at least 0 levels"
def test_coarsen_names_what_the_graph_lacks() -> None:
    graph = _graphs(1)[0]
    with pytest.raises(ValueError, match=r"the graph has no node features \(data.x\)"):
        Coarsen([pooler("graclus")])(Data(edge_index=graph.edge_index, num_nodes=graph.num_nodes))
    # one without edges: "'NoneType' object has no attribute 'dim'"
    with pytest.raises(ValueError, match=r"the graph has no data.edge_index: give one \(\[2, 0\] for no edges\)"):
        Coarsen([pooler("graclus")])(Data(x=graph.x))
    with pytest.raises(ValueError, match=r"the graph has no 'kind' \(the labels of the 'given' level"):
        Coarsen([pooler("given")], labels="kind")(graph)
    # a tensor for the graph: "'Tensor' object has no attribute 'x'"
    with pytest.raises(TypeError, match=r"Coarsen transforms one PyG Data \(a graph\), got Tensor"):
        Coarsen([pooler("graclus")])(graph.x)
    batch = next(iter(DataLoader([Coarsen([pooler("graclus")])(g) for g in _graphs(2)], batch_size=2)))
    for depth in (0, -1):
        with pytest.raises(ValueError, match=rf"'depth' must be >= 1 \(level 1 is the first coarsening\), got {depth}"):
            Coarsen.level(batch, depth)


def test_a_dataset_precoarsened_on_disk_reloads_with_the_safe_loader(tmp_path, recwarn) -> None:
    """PyG loads processed files with weights_only=True and warns ("Weights only load failed") and falls
    back to an unsafe load for classes not registered as safe: CoarsenedData is registered."""
    import warnings

    from torch_geometric.data import InMemoryDataset

    class Rings(InMemoryDataset):
        def __init__(self, root: str) -> None:
            super().__init__(root, pre_transform=Coarsen([pooler("graclus")]))
            self.load(self.processed_paths[0])

        @property
        def processed_file_names(self) -> list[str]:
            return ["rings.pt"]

        def process(self) -> None:
            self.save([self.pre_transform(g) for g in _graphs()], self.processed_paths[0])

    Rings(str(tmp_path))  # processes
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        again = Rings(str(tmp_path))  # loads
    assert "cluster_1" in again[0] and isinstance(again[0], CoarsenedData)
