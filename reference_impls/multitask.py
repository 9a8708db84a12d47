r"""Multi-task learning: one shared backbone with a head per task, instead of one network per task.

Caruana, *Multitask Learning*, Machine Learning 28(1), 1997,
[doi:10.1023/A:1007379606734](https://doi.org/10.1023/A:1007379606734).

**Idea.** Tasks on the same input need much of the same features. Sharing the feature extractor ("hard parameter
sharing") and giving each task only a small head pays for the features once: on a phone that runs several models
on every camera frame, the backbone's MACs and weights are counted once instead of once per task. Caruana's point
is that the shared layers may even learn better features, since each task acts as an inductive bias for the other;
the efficiency argument holds whether or not that happens, and the run below measures both.

**Key equation.** With a backbone $f_\theta$ and heads $g_1, g_2$, training minimises

$$\mathcal{L} = \mathrm{CE}\big(g_1(f_\theta(x)), y\big) + \lambda\,\big(g_2(f_\theta(x)) - t\big)^2,$$

and the cost of the pair is $\mathrm{MACs}(f) + \mathrm{MACs}(g_1) + \mathrm{MACs}(g_2)$ instead of
$2\,\mathrm{MACs}(f) + \mathrm{MACs}(g_1) + \mathrm{MACs}(g_2)$.

**Setup.** MNIST, two tasks: the digit class, and the **stroke thickness** of the digit, a regression target derived
from the image itself. A stroke of width $w$ and length $L$ covers about $wL$ pixels and has a boundary of about
$2L$, so $w \approx 2A/P$ with $A$ the ink pixels and $P$ the ink pixels with a background 4-neighbour
(`stroke_thickness`). The targets are standardised with the training images' mean and deviation. The baseline is
two separate networks of the same architecture, one per task, trained with the same epochs in the same run. The
shared net is trained for each thickness-loss weight $\lambda$ of a small sweep (the trade-off between the two
tasks is on the page as a curve); the headline $\lambda$ is the one with the best validation class accuracy.

## What our run measured

MACs, parameters, batch-1 latency, class accuracy and thickness error of the shared model and of the two separate
networks are filled in below, side by side, from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from reference_impls._data import Split, mnist, subset
from reference_impls._measure import count_macs, count_params, paired_latency, threads
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train

INPUT_SHAPE = (1, 1, 28, 28)
WEIGHTS = (0.1, 0.3, 1.0)  # λ, the weight of the thickness loss, swept: sharing trades one task against the other


def stroke_thickness(x: torch.Tensor) -> torch.Tensor:
    """Mean stroke width of each image, 2·(ink area)/(ink boundary), with ink = pixels above 0.5."""
    ink = (x > 0.5).float()
    # A pixel is interior when its four neighbours are ink too: min-pool with a plus-shaped footprint.
    padded = F.pad(ink, (1, 1, 1, 1))
    interior = ink * padded[..., :-2, 1:-1] * padded[..., 2:, 1:-1] * padded[..., 1:-1, :-2] * padded[..., 1:-1, 2:]
    area = ink.sum((1, 2, 3))
    boundary = (ink - interior).sum((1, 2, 3)).clamp(min=1.0)
    return 2 * area / boundary


def backbone() -> nn.Sequential:
    """Two conv-pool stages and a fully connected feature layer (LeNet-5 style)."""
    return nn.Sequential(
        nn.Conv2d(1, 16, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(16, 32, 5, padding=2),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(32 * 7 * 7, 64),
        nn.ReLU(),
    )


class SharedNet(nn.Module):
    """One backbone, a 10-way class head and a 1-output thickness head."""

    def __init__(self) -> None:
        super().__init__()
        self.backbone = backbone()
        self.classify = nn.Linear(64, 10)
        self.thickness = nn.Linear(64, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and (standardised) thickness."""
        features = self.backbone(x)
        return self.classify(features), self.thickness(features).squeeze(1)


class SeparateNets(nn.Module):
    """The baseline: a full network per task, run one after the other."""

    def __init__(self) -> None:
        super().__init__()
        self.classifier = nn.Sequential(backbone(), nn.Linear(64, 10))
        self.regressor = nn.Sequential(backbone(), nn.Linear(64, 1))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Class logits and (standardised) thickness."""
        return self.classifier(x), self.regressor(x).squeeze(1)


class ClassLogits(nn.Module):
    """Expose the class output alone, for `training.accuracy`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        return self.model(x)[0]


def joint_loss(mean: float, std: float, weight: float = 1.0) -> Any:
    """Cross-entropy on the class plus `weight` × squared error on the standardised thickness of the same images."""

    def loss(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        logits, thickness = model(x)
        target = (stroke_thickness(x) - mean) / std
        return F.cross_entropy(logits, y) + weight * F.mse_loss(thickness, target)

    return loss


@torch.no_grad()
def thickness_error(model: nn.Module, split: Split, mean: float, std: float) -> tuple[float, float]:
    """Mean absolute error (pixels) and R² of the predicted thickness on the test split."""
    model.eval()
    predicted = model(split.x_test)[1] * std + mean
    target = stroke_thickness(split.x_test)
    r2 = 1 - ((predicted - target) ** 2).sum() / ((target - target.mean()) ** 2).sum()
    return float((predicted - target).abs().mean()), float(r2)


def batch1_latency(a: nn.Module, b: nn.Module, runs: int) -> tuple[float, float]:
    """Batch-1 median latency (ms, one thread) of two models, timed call by call in alternation."""
    x = torch.zeros(INPUT_SHAPE)
    a.eval()
    b.eval()
    with threads(1), torch.inference_mode():
        return paired_latency(lambda: a(x), lambda: b(x), warmup=10, runs=runs)


def measure(model: nn.Module, split: Split, mean: float, std: float, latency_ms: float) -> dict[str, Any]:
    """Parameters, MACs, latency and both tasks' test figures of one model."""
    mae, r2 = thickness_error(model, split, mean, std)
    return {
        "params": count_params(model),
        "macs": count_macs(model, torch.zeros(INPUT_SHAPE)),
        "latency_ms": latency_ms,
        "accuracy": accuracy(ClassLogits(model), split.x_test, split.y_test),
        "thickness_mae": mae,
        "thickness_r2": r2,
    }


PAPER_VS_OURS = (
    Versus(
        "Related tasks learned in parallel",
        "shared_accuracy",
        setting="digit-class test accuracy of the shared net, stroke thickness as the second task, on MNIST; the same "
        "architecture trained for the class alone is the baseline (separate accuracy, in the record below)",
        effect="the shared net classifies digits more accurately than the class net trained alone (means over seeds)",
        holds=lambda m: m["shared_accuracy"] > m["separate_accuracy"],
    ),
)


@register("multitask", arxiv=None, catalog_id="caruana1997multitask", input_shape=INPUT_SHAPE, versus=PAPER_VS_OURS)
def shared_net() -> nn.Module:
    """The shared-backbone two-head network."""
    return SharedNet()


@experiment("multitask", seeds=3)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train the shared net and the two separate nets on both tasks; compare cost and quality."""
    # Small models: a second thread costs more in synchronisation than it saves, and on a shared machine
    # it competes with the measurement; every figure of this run is single-threaded.
    with threads(1):
        split = mnist()
        if quick:  # a data subset and one epoch: checks the mechanics and the exact counts, not the accuracy
            split = subset(split, train=500, val=100, test=200)
        epochs, runs = (1, 20) if quick else (8, 100)
        thickness = stroke_thickness(split.x_train)
        mean, std = float(thickness.mean()), float(thickness.std())
        seed_everything(seed)
        # Each separate net sees only its own task's loss: the other head's gradient never reaches its backbone.
        separate = train(
            SeparateNets(), split, epochs=epochs, seed=seed, loss_fn=joint_loss(mean, std), desc="separate"
        )
        sweep, nets = [], {}
        for weight in WEIGHTS:
            seed_everything(seed)
            nets[weight] = train(
                shared_net(),
                split,
                epochs=epochs,
                seed=seed,
                loss_fn=joint_loss(mean, std, weight),
                desc=f"shared λ={weight}",
            )
            mae, r2 = thickness_error(nets[weight], split, mean, std)
            classes = ClassLogits(nets[weight])
            sweep.append(
                {
                    "weight": weight,
                    "val_accuracy": accuracy(classes, split.x_val, split.y_val),
                    "accuracy": accuracy(classes, split.x_test, split.y_test),
                    "thickness_mae": mae,
                    "thickness_r2": r2,
                }
            )
        # The headline λ is the one with the best validation accuracy on the digit class, the primary task.
        weight = max(sweep, key=lambda row: row["val_accuracy"])["weight"]
        shared_ms, separate_ms = batch1_latency(nets[weight], separate, runs)
        a = measure(nets[weight], split, mean, std, shared_ms)
        b = measure(separate, split, mean, std, separate_ms)
        return {
            "accuracy": a["accuracy"],
            "baseline_accuracy": b["accuracy"],
            "macs_ratio": a["macs"] / b["macs"],
            "params_ratio": a["params"] / b["params"],
            "speedup": b["latency_ms"] / a["latency_ms"],
            "loss_weight": weight,
            **{f"shared_{k}": v for k, v in a.items()},
            **{f"separate_{k}": v for k, v in b.items()},
            "thickness_mean_px": mean,
            "thickness_std_px": std,
            "seed": seed,
            "quick": quick,
            "curves": {"loss_weight_sweep": sweep},
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a data subset and one epoch, for tests")
