"""The small MNIST networks that several techniques start from (the papers' LeNets).

Kept apart from any one technique: pruning, deep compression, distillation, low rank and the combined pipeline all
train these, and a technique module should not import another to get its baseline.
"""

from __future__ import annotations

import torch
from torch import nn


class LeNet300100(nn.Module):
    """LeNet-300-100: a 784-300-100-10 fully connected net (266,610 parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(784, 300)
        self.fc2 = nn.Linear(300, 100)
        self.fc3 = nn.Linear(100, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of 1x28x28 images."""
        x = torch.relu(self.fc1(x.flatten(1)))
        return self.fc3(torch.relu(self.fc2(x)))


class LeNet5(nn.Module):
    """A LeNet-5-style conv net: conv 20@5x5, pool, conv 50@5x5, pool, fc 500, fc 10 (431,080 parameters)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 20, 5)
        self.conv2 = nn.Conv2d(20, 50, 5)
        self.fc1 = nn.Linear(800, 500)
        self.fc2 = nn.Linear(500, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of 1x28x28 images."""
        x = torch.max_pool2d(self.conv1(x), 2)
        x = torch.relu(torch.max_pool2d(self.conv2(x), 2))
        return self.fc2(torch.relu(self.fc1(x.flatten(1))))
