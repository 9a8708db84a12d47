"""The one training loop and the one accuracy function that every technique shares.

Techniques differ in their loss (distillation), in what they do between steps (pruning masks) or in the model;
`train` takes those as arguments so that each module keeps only what is particular to its paper.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from tqdm import tqdm

from reference_impls._data import Split

LossFn = Callable[[nn.Module, torch.Tensor, torch.Tensor], torch.Tensor]


def seed_everything(seed: int) -> torch.Generator:
    """Seed torch for a deterministic run and return a generator for data order."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def cross_entropy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The plain classification loss."""
    return nn.functional.cross_entropy(model(x), y)


def train(
    model: nn.Module,
    split: Split,
    *,
    epochs: int,
    lr: float = 1e-3,
    batch_size: int = 64,
    seed: int = 0,
    loss_fn: LossFn = cross_entropy,
    after_step: Callable[[nn.Module], None] | None = None,
    desc: str = "train",
) -> nn.Module:
    """Train `model` on the split's training images with Adam.

    Args:
        model: The model to train in place.
        split: The data.
        epochs: Passes over the training set.
        lr: Adam's learning rate.
        batch_size: Images per step.
        seed: Seeds the data order, so a run repeats exactly.
        loss_fn: `(model, x, y) -> loss`; defaults to cross-entropy.
        after_step: Called after every optimiser step (re-apply a pruning mask, clip latent weights, ...).
        desc: Label of the progress bar.
    """
    generator = seed_everything(seed)
    optimiser = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    n = split.x_train.shape[0]
    model.train()
    for _ in tqdm(range(epochs), desc=desc, leave=False, disable=None):
        order = torch.randperm(n, generator=generator)
        for start in range(0, n, batch_size):
            idx = order[start : start + batch_size]
            optimiser.zero_grad()
            loss = loss_fn(model, split.x_train[idx], split.y_train[idx])
            loss.backward()
            optimiser.step()
            if after_step is not None:
                after_step(model)
    model.eval()
    return model


@torch.no_grad()
def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 500) -> float:
    """Top-1 accuracy of `model` on (x, y), in [0, 1]."""
    model.eval()
    correct = 0
    for start in range(0, x.shape[0], batch_size):
        correct += (model(x[start : start + batch_size]).argmax(dim=1) == y[start : start + batch_size]).sum().item()
    return correct / x.shape[0]
