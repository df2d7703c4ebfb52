"""Images as grid graphs, end to end, on scikit-learn's bundled 8x8 digits (no download).

Trains (1) a small CNN whose head is global average pooling + a linear layer and (2) a GNN on
the same images as grid graphs (pixels = nodes, 4-neighbour edges) with a mean readout +
a linear layer; prints the test accuracy of both, checks that each model's class activation
maps average to its logits, and writes CAM heatmaps (PNG) for a few test digits.

    python scripts/image_pooling_demo.py                    # well under two minutes on 2 CPU cores
    python scripts/image_pooling_demo.py --out results/cam --epochs 60
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import Tensor, nn
from torch_geometric.nn import GraphConv

from graphpool.experiment import pyplot
from graphpool.explain import node_class_scores
from graphpool.grid import GlobalPool, class_activation_map, graph_to_image, image_to_graph
from graphpool.readout import global_pool

plt = pyplot()


class DigitCNN(nn.Module):
    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1),
            nn.ReLU(),
        )
        self.pool = GlobalPool("mean")
        self.head = nn.Linear(width, 10)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        maps = self.features(images)
        return self.head(self.pool(maps)), maps


class DigitGNN(nn.Module):
    """Message passing on the pixel grid; node features are the intensity and the pixel position
    (GraphConv's sum over neighbours cannot tell directions apart, so positions stand in for
    the orientation a convolution kernel sees)."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        self.convs = nn.ModuleList([GraphConv(3, width), GraphConv(width, width), GraphConv(width, width)])
        self.head = nn.Linear(width, 10)

    def forward(self, images: Tensor) -> tuple[Tensor, Tensor]:
        graphs = image_to_graph(images)
        h = torch.cat([graphs.x, graphs.pos.float() / 7.0], dim=1)
        for conv in self.convs:
            h = conv(h, graphs.edge_index).relu()
        return self.head(global_pool(h, graphs, reduce="mean")), h


def train(model: nn.Module, x: Tensor, y: Tensor, epochs: int, seed: int) -> None:
    torch.manual_seed(seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(epochs):
        order = torch.randperm(len(x))
        for start in range(0, len(x), 64):
            index = order[start : start + 64]
            logits, _ = model(x[index])
            loss = F.cross_entropy(logits, y[index])
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()


@torch.no_grad()
def accuracy(model: nn.Module, x: Tensor, y: Tensor) -> float:
    logits, _ = model(x)
    return (logits.argmax(1) == y).float().mean().item()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--out", type=Path, default=Path("results/image_pooling_demo"))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    digits = load_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0  # [1797, 1, 8, 8]
    labels = torch.tensor(digits.target)
    train_idx, test_idx = train_test_split(
        torch.arange(len(labels)).numpy(), test_size=0.25, stratify=labels.numpy(), random_state=args.seed
    )
    x_train, y_train, x_test, y_test = images[train_idx], labels[train_idx], images[test_idx], labels[test_idx]
    print(f"digits: {len(y_train)} training and {len(y_test)} test images of 8 x 8 pixels, 10 classes")

    models = {"CNN + global average pooling": DigitCNN(), "GNN on grid graphs + mean readout": DigitGNN()}
    for name, model in models.items():
        start = time.perf_counter()
        train(model, x_train, y_train, args.epochs, args.seed)
        model.eval()
        print(
            f"{name:<36} test accuracy {accuracy(model, x_test, y_test):.3f} "
            f"({time.perf_counter() - start:.1f} s, {args.epochs} epochs)"
        )

    cnn, gnn = models.values()
    shown = x_test[:8]
    with torch.no_grad():
        cnn_logits, cnn_maps = cnn(shown)
        gnn_logits, gnn_nodes = gnn(shown)
        predicted_cnn, predicted_gnn = cnn_logits.argmax(1), gnn_logits.argmax(1)
        cam_cnn = class_activation_map(cnn_maps, cnn.head.weight)  # [8, 10, 8, 8]
        cam_gnn = graph_to_image(node_class_scores(gnn_nodes, gnn.head.weight), (8, 8))
        # the maps split each logit over the pixels: their mean plus the bias is the logit
        for maps, logits, head in ((cam_cnn, cnn_logits, cnn.head), (cam_gnn, gnn_logits, gnn.head)):
            torch.testing.assert_close(maps.mean((2, 3)) + head.bias, logits, rtol=1e-4, atol=1e-4)
    print("checked: the mean of every class activation map plus the bias equals the logit")

    args.out.mkdir(parents=True, exist_ok=True)
    figure, axes = plt.subplots(3, 8, figsize=(12, 4.8))
    rows = (("digit", None, None), ("CNN CAM", cam_cnn, predicted_cnn), ("GNN CAM", cam_gnn, predicted_gnn))
    for row, (title, maps, predicted) in enumerate(rows):
        for column in range(8):
            axis = axes[row, column]
            if maps is None:
                axis.imshow(shown[column, 0], cmap="gray_r")
                axis.set_title(f"label {int(y_test[column])}", fontsize=9)
            else:
                axis.imshow(maps[column, predicted[column]], cmap="magma")
                axis.set_title(f"{title}: {int(predicted[column])}", fontsize=9)
            axis.set_xticks([])
            axis.set_yticks([])
    figure.suptitle("Class activation maps of the predicted class (bright = evidence for it)")
    figure.tight_layout()
    path = args.out / "cam_digits.png"
    figure.savefig(path, dpi=100)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
