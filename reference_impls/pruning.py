r"""Pruning: learning both weights and connections.

Han, Pool, Tran and Dally, *Learning both Weights and Connections for Efficient Neural Networks*, NeurIPS 2015,
[arXiv:1506.02626](https://arxiv.org/abs/1506.02626).

**Idea.** A trained network holds many connections that matter little. Remove the weights of smallest magnitude,
retrain the survivors so that they take over the work of the removed ones, and repeat: each round removes a little
more. How far each layer can be pruned differs, so a *sensitivity scan* first prunes one layer at a time (no
retraining) and records the validation accuracy; sensitive layers (the first convolution, the last classifier) get
a lower target than the large fully connected layers, which hold most of the weights. We turn the scan into
targets with one budget: remove 92 % of all weights (the paper's figure for both LeNets), giving each layer the
largest scanned sparsity whose drop stays within a common tolerance, the smallest tolerance that meets the budget.

**Key equation.** With a per-layer binary mask $M_\ell$ that keeps the weights above a magnitude threshold
$t_\ell$,

$$W_\ell \leftarrow W_\ell \odot M_\ell, \qquad M_\ell = [\,|W_\ell| > t_\ell\,],$$

and retraining applies the mask after every step, so pruned connections stay at zero. The paper sets $t_\ell$ as a
multiple of the layer's weight standard deviation; we pick it as the magnitude quantile that removes exactly the
target fraction, which makes the sparsity we report the sparsity we asked for. Round $r$ of $R$ prunes layer
$\ell$ to $1 - (1 - s_\ell)^{r/R}$: the same share of the surviving weights each round.

**Storage.** A sparse layer is stored in the relative-index format the authors use (described in Deep Compression,
arXiv:1510.00149, Fig. 2): for every kept weight, the gap to the previous kept weight in $b$ bits ($b = 8$ for
convolutions, $5$ for fully connected layers) and its fp32 value; a gap larger than $2^b$ is bridged with a filler
entry of value zero. A layer with $n$ entries (fillers included) takes $\lceil n b / 8 \rceil + 4n$ bytes;
biases stay dense. `encode_layer` writes those bytes and `decode_layer` reads them back; `write_sparse` puts
every layer's streams in one file (`reference_impls._container`'s format) and `load_sparse` rebuilds a model from
that file alone. The storage ratio is the size of that file over the size of the dense fp32 file of the same
model in the same format, and the accuracy after pruning is scored again on the model read back from the file.

**Setup.** LeNet-300-100 and a LeNet-5-style convolutional net (Caffe's 20-50-500 variant) trained on the 3,500
MNIST training images of `reference_impls._data.mnist`; the baseline is the same model, trained in the same run,
before pruning. Retraining adds epochs the baseline does not get; the accuracy-vs-sparsity curve records the test
accuracy after every round, so what the extra training gives back is visible.

**Export.** XNNPACK and ONNX Runtime have no sparse kernels for these layers, so the exported model is the dense
equivalent (zeros stored as zeros); the saving shows in the storage format, not in dense latency.

## What our run measured

The measured accuracy, sparsity and storage figures, with the sensitivity scan and the accuracy-vs-sparsity curve,
are filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import copy
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from reference_impls import _container as container
from reference_impls._data import Split, mnist, subset
from reference_impls._models import LeNet5, LeNet300100
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train

Masks = dict[str, torch.Tensor]
TARGET = 0.92  # fraction of weights to remove; the paper removes 92 % of LeNet-300-100 and LeNet-5
SCAN_GRID = (0.5, 0.7, 0.8, 0.85, 0.9, 0.92, 0.93, 0.94, 0.95, 0.96, 0.98)


def prunable(model: nn.Module) -> dict[str, nn.Module]:
    """The layers whose weights are pruned (biases are few and stay dense, as in the paper)."""
    return {name: m for name, m in model.named_modules() if isinstance(m, nn.Linear | nn.Conv2d)}


def magnitude_mask(weight: torch.Tensor, sparsity: float, order: torch.Tensor | None = None) -> torch.Tensor:
    """A mask that zeroes exactly `round(sparsity * n)` weights of smallest magnitude.

    `order` (the flat indices of `weight` by increasing magnitude) saves the sort when one tensor gets many masks.
    """
    if order is None:
        # A stable sort keeps earlier-pruned weights (already zero) pruned, so masks of later rounds are nested.
        order = torch.sort(weight.detach().abs().flatten(), stable=True).indices
    mask = torch.ones(weight.numel())
    mask[order[: round(sparsity * weight.numel())]] = 0.0
    return mask.view_as(weight)


@torch.no_grad()
def apply_masks(model: nn.Module, masks: Masks) -> None:
    """Zero the pruned weights in place."""
    layers = prunable(model)
    for name, mask in masks.items():
        layers[name].weight.mul_(mask)


def sparsity(model: nn.Module) -> float:
    """Fraction of prunable weights that are exactly zero, measured on the weights themselves."""
    weights = [m.weight for m in prunable(model).values()]
    return sum(int((w == 0).sum()) for w in weights) / sum(w.numel() for w in weights)


def weight_reduction(model: nn.Module) -> float:
    """Weights of the prunable layers over the nonzero ones among them: the paper's "parameter reduction"."""
    layers = prunable(model).values()
    return sum(m.weight.numel() for m in layers) / sum(int(torch.count_nonzero(m.weight)) for m in layers)


@torch.no_grad()
def sensitivity_scan(model: nn.Module, split: Split, grid: tuple[float, ...] = SCAN_GRID) -> dict[str, list[float]]:
    """Validation accuracy with one layer pruned to each sparsity of `grid`, the others untouched."""
    scan: dict[str, list[float]] = {}
    for name, layer in prunable(model).items():
        original = layer.weight.clone()
        order = torch.sort(original.abs().flatten(), stable=True).indices
        scan[name] = []
        for s in grid:
            layer.weight.mul_(magnitude_mask(original, s, order))
            scan[name].append(accuracy(model, split.x_val, split.y_val))
            layer.weight.copy_(original)
    return scan


def choose_sparsities(
    scan: dict[str, list[float]],
    baseline_val: float,
    sizes: dict[str, int],
    target: float,
    grid: tuple[float, ...] = SCAN_GRID,
) -> dict[str, float]:
    """Per-layer sparsities that reach `target` overall, spending the budget where the scan says it hurts least.

    Every layer gets the largest scanned sparsity whose accuracy drop (without retraining) stays within one common
    tolerance; the tolerance is the smallest that removes `target` of all the weights. Sensitive layers thus end
    up less sparse than robust ones, as in the paper.
    """
    for tolerance in sorted({baseline_val - acc for accs in scan.values() for acc in accs} | {0.0}):
        chosen = {
            name: max((s for s, acc in zip(grid, accs, strict=True) if baseline_val - acc <= tolerance), default=0.0)
            for name, accs in scan.items()
        }
        if sum(chosen[n] * sizes[n] for n in chosen) >= target * sum(sizes.values()):
            return chosen
    return dict.fromkeys(scan, grid[-1])


def iterative_prune(
    model: nn.Module, split: Split, targets: dict[str, float], *, rounds: int, epochs: int, lr: float, seed: int
) -> tuple[Masks, list[tuple[float, float]]]:
    """Prune towards `targets` in `rounds` steps with retraining; returns the masks and (sparsity, test acc) points."""
    layers, masks, curve = prunable(model), {}, []
    for r in tqdm(range(1, rounds + 1), desc="prune rounds", leave=False, disable=None):
        masks = {n: magnitude_mask(layers[n].weight, 1 - (1 - s) ** (r / rounds)) for n, s in targets.items()}
        apply_masks(model, masks)
        keep_pruned = lambda m, masks=masks: apply_masks(m, masks)  # noqa: E731
        train(model, split, epochs=epochs, lr=lr, seed=seed + r, after_step=keep_pruned, desc=f"retrain {r}/{rounds}")
        curve.append((sparsity(model), accuracy(model, split.x_test, split.y_test)))
    return masks, curve


@dataclass(frozen=True)
class SparseLayer:
    """One weight tensor in relative-index format: `count` entries of (gap - 1 in `bits` bits, fp32 value)."""

    shape: tuple[int, ...]
    bits: int
    count: int
    gaps: bytes
    values: bytes

    @property
    def nbytes(self) -> int:
        """Bytes of the two streams: ceil(count * bits / 8) + 4 * count."""
        return len(self.gaps) + len(self.values)


def relative_indices(flat: np.ndarray, bits: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions of the nonzeros of `flat` as gaps (1..2^bits) with filler entries; returns (gaps, positions)."""
    span, gaps, positions, previous = 1 << bits, [], [], -1
    for position in np.flatnonzero(flat):
        while position - previous > span:  # bridge a long run of zeros with a filler entry of value zero
            previous += span
            gaps.append(span)
            positions.append(previous)
        gaps.append(position - previous)
        positions.append(position)
        previous = position
    return np.asarray(gaps, dtype=np.int64), np.asarray(positions, dtype=np.int64)


def pack_bits(values: np.ndarray, bits: int) -> bytes:
    """Unsigned integers below 2^bits packed back to back, most significant bit first."""
    shifts = np.arange(bits - 1, -1, -1)
    return np.packbits(((values[:, None] >> shifts) & 1).astype(np.uint8).ravel()).tobytes()


def unpack_bits(data: bytes, bits: int, count: int) -> np.ndarray:
    """Inverse of `pack_bits`."""
    flat = np.unpackbits(np.frombuffer(data, dtype=np.uint8))[: count * bits].reshape(count, bits)
    return flat.astype(np.int64) @ (1 << np.arange(bits - 1, -1, -1))


def encode_layer(weight: torch.Tensor, bits: int) -> SparseLayer:
    """Encode a (pruned) weight tensor in relative-index format."""
    flat = weight.detach().flatten().numpy()
    gaps, positions = relative_indices(flat, bits)
    values = flat[positions].astype("<f4")  # fillers point at zeros, so their value is 0.0
    return SparseLayer(tuple(weight.shape), bits, len(gaps), pack_bits(gaps - 1, bits), values.tobytes())


def decode_layer(layer: SparseLayer) -> torch.Tensor:
    """Rebuild the dense weight tensor from its relative-index encoding."""
    positions = np.cumsum(unpack_bits(layer.gaps, layer.bits, layer.count) + 1) - 1
    flat = np.zeros(math.prod(layer.shape), dtype=np.float32)
    flat[positions] = np.frombuffer(layer.values, dtype="<f4")
    return torch.from_numpy(flat).view(layer.shape)


def index_bits(layer: nn.Module) -> int:
    """The paper's gap width: 8 bits for convolutions, 5 bits for fully connected layers."""
    return 8 if isinstance(layer, nn.Conv2d) else 5


def sparse_streams(model: nn.Module) -> tuple[dict[str, bytes], dict[str, Any]]:
    """The prunable layers in relative-index format (gaps, fp32 values) with dense fp32 biases, and their shapes."""
    streams: dict[str, bytes] = {}
    layers: dict[str, Any] = {}
    for name, m in prunable(model).items():
        encoded = encode_layer(m.weight, index_bits(m))
        streams[f"{name}.gaps"], streams[f"{name}.values"] = encoded.gaps, encoded.values
        streams[f"{name}.bias"] = m.bias.detach().numpy().astype("<f4").tobytes()
        layers[name] = {"shape": list(encoded.shape), "bits": encoded.bits, "count": encoded.count}
    return streams, {"format": "relative-index-fp32", "layers": layers}


def write_sparse(model: nn.Module, path: Path) -> int:
    """Write `model` in relative-index format to `path`; returns the file's size."""
    return container.write(path, *sparse_streams(model))


def load_sparse(model: nn.Module, path: Path) -> nn.Module:
    """Fill `model`'s prunable layers from a file of `write_sparse` (nothing else is read)."""
    streams, meta = container.read(path)
    layers = prunable(model)
    with torch.no_grad():
        for name, info in meta["layers"].items():
            stored = SparseLayer(
                tuple(info["shape"]), info["bits"], info["count"], streams[f"{name}.gaps"], streams[f"{name}.values"]
            )
            layers[name].weight.copy_(decode_layer(stored))
            layers[name].bias.copy_(torch.from_numpy(container.fp32(streams[f"{name}.bias"], [-1])))
    return model.eval()


def stored_sizes(model: nn.Module, split: Split) -> dict[str, Any]:
    """Write the dense and the sparse file of `model`, read the sparse one back and score what it decodes to."""
    with tempfile.TemporaryDirectory(prefix="kb-pruning-") as tmp:
        dense = container.write_dense(model, Path(tmp) / "dense.kbpack")
        sparse = write_sparse(model, Path(tmp) / "sparse.kbpack")
        decoded = load_sparse(copy.deepcopy(model), Path(tmp) / "sparse.kbpack")
    return {
        "dense_bytes": dense,
        "sparse_bytes": sparse,
        "storage_ratio": dense / sparse,
        "decoded_accuracy": accuracy(decoded, split.x_test, split.y_test),
    }


def prune_model(
    model: nn.Module,
    split: Split,
    *,
    seed: int,
    base_epochs: int,
    lr: float,
    target: float,
    rounds: int,
    epochs: int,
) -> dict[str, Any]:
    """Train `model`, scan its sensitivity, prune it iteratively and measure the result."""
    train(model, split, epochs=base_epochs, lr=lr, seed=seed, desc=f"baseline {type(model).__name__}")
    baseline = accuracy(model, split.x_test, split.y_test)
    scan = sensitivity_scan(model, split)
    sizes = {name: m.weight.numel() for name, m in prunable(model).items()}
    targets = choose_sparsities(scan, accuracy(model, split.x_val, split.y_val), sizes, target)
    masks, curve = iterative_prune(model, split, targets, rounds=rounds, epochs=epochs, lr=lr / 3, seed=seed)
    return {
        "accuracy": accuracy(model, split.x_test, split.y_test),
        "baseline_accuracy": baseline,
        "sparsity": sparsity(model),
        "weight_reduction": weight_reduction(model),
        **stored_sizes(model, split),
        **{f"sparsity_{name}": int((mask == 0).sum()) / mask.numel() for name, mask in masks.items()},
        "curves": {
            "accuracy_vs_sparsity": [{"sparsity": 0.0, "accuracy": baseline}]
            + [{"sparsity": s, "accuracy": a} for s, a in curve],
            **{
                f"sensitivity_{name}": [
                    {"sparsity": s, "val_accuracy": a} for s, a in zip(SCAN_GRID, accs, strict=True)
                ]
                for name, accs in scan.items()
            },
        },
    }


def conv_net_holds(metrics: dict[str, Any]) -> bool:
    """The paper's conv-net effect in our record: at least 9× fewer weights, at most 0.5 pp below the baseline."""
    kept = metrics["conv_accuracy"] >= metrics["conv_baseline_accuracy"] - 0.005
    return metrics["conv_weight_reduction"] >= 9 and kept


PAPER_VS_OURS = (
    Versus(
        "LeNet-300-100 parameter reduction",
        "weight_reduction",
        setting="LeNet-300-100 on 3,500 MNIST training images; weights counted, nonzero ones kept",
        effect="at least 10× fewer weights, at most 0.5 pp below the unpruned baseline",
        holds=lambda m: m["weight_reduction"] >= 10 and m["accuracy"] >= m["baseline_accuracy"] - 0.005,
    ),
    *(
        Versus(
            f"{network} parameter reduction",
            "conv_weight_reduction",
            setting=f"a LeNet-5-style conv net on MNIST, not {network} on ImageNet",
            effect="a conv net loses at least 9× of its weights, at most 0.5 pp below its baseline",
            holds=conv_net_holds,
        )
        for network in ("AlexNet", "VGG-16")
    ),
)


@register("pruning", arxiv="1506.02626", catalog_id="han2015learning", input_shape=(1, 1, 28, 28), versus=PAPER_VS_OURS)
def lenet_300_100() -> nn.Module:
    """LeNet-300-100, the paper's first MNIST model (the conv net is `LeNet5`)."""
    return LeNet300100()


@experiment("pruning", seeds=5)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Prune LeNet-300-100 and LeNet-5 on MNIST; flat figures for LeNet-300-100, `conv_*` for LeNet-5."""
    split = mnist()
    if quick:  # a data subset and one epoch per stage: checks the mechanics, not the accuracy
        split = subset(split)
    fc = dict(base_epochs=1, rounds=2, epochs=1) if quick else dict(base_epochs=15, rounds=3, epochs=5)
    conv = dict(base_epochs=1, rounds=2, epochs=1) if quick else dict(base_epochs=6, rounds=3, epochs=2)
    seed_everything(seed)
    mlp = prune_model(lenet_300_100(), split, seed=seed, lr=1e-3, target=TARGET, **fc)
    seed_everything(seed)
    lenet5 = prune_model(LeNet5(), split, seed=seed, lr=1e-3, target=TARGET, **conv)
    curves = {**mlp.pop("curves"), **{f"conv_{k}": v for k, v in lenet5.pop("curves").items()}}
    return {**mlp, **{f"conv_{k}": v for k, v in lenet5.items()}, "seed": seed, "quick": quick, "curves": curves}


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a few seconds on a data subset, for tests")
