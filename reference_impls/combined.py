r"""Combining compressions: distillation, then pruning, then INT8 quantization, each stage measured.

The pipeline follows Han, Mao and Dally, *Deep Compression: Compressing Deep Neural Networks with Pruning, Trained
Quantization and Huffman Coding*, ICLR 2016, [arXiv:1510.00149](https://arxiv.org/abs/1510.00149), whose point is
that compressions stack: pruning removes weights, quantization shrinks the ones left, and their savings multiply
with little loss because each stage retrains or calibrates after the previous one. Here the first stage is
knowledge distillation (Hinton et al., [arXiv:1503.02531](https://arxiv.org/abs/1503.02531), `distillation`), the
second iterative magnitude pruning (Han et al., [arXiv:1506.02626](https://arxiv.org/abs/1506.02626), `pruning`)
and the third post-training static INT8 in ONNX Runtime (Jacob et al., [arXiv:1712.05877](https://arxiv.org/abs/1712.05877),
`quantization`).

**Idea.** Start from a large, accurate teacher. (1) Distil it into a small student: fewer weights and MACs, at
the accuracy the teacher's soft targets buy. (2) Prune the student's weights by magnitude with retraining, so that
most of them are zero. (3) Quantize what is left to int8 with per-channel scales; symmetric quantization maps zero
to zero, so the pruned weights stay pruned.

**Key equation.** After all three stages a layer is stored in the relative-index format of Deep Compression
(gaps of $b$ bits, fillers included, $n$ entries) with one int8 value per entry, one fp32 scale per output channel
and fp32 biases:

$$\mathrm{bytes} = \lceil n b / 8 \rceil + n \cdot 1 + 4\,C_{out} + 4\,C_{out},$$

against $4\,(C_{out} C_{in} + C_{out})$ for the dense fp32 layer.

**The file.** `write_sparse_int8` writes exactly those streams for every layer into one file of
`reference_impls._container`'s format (the manifest holds shapes, gap widths and entry counts), and
`load_sparse_int8` rebuilds the model from that file alone: the int8 values times their channel's scale. Every
ratio below is the size of such a file over the size of the dense fp32 file of the student in the same format,
and the accuracy of the last stage is the accuracy of the model read back from it. Runtimes have no sparse int8
kernels for these layers, so the runtime check is ONNX Runtime running the dense int8 equivalent, whose file
size and accuracy are reported beside it.

**Setup.** MNIST (3,500 training images). Teacher: `distillation.train_teacher` (the LeNet-5-style conv net,
trained on jittered images). Student: LeNet-300-100 (`pruning.LeNet300100`), trained from scratch as the baseline
and with distillation as stage 1, with the same epochs and seed. Pruning keeps the per-layer rates of Han et al.
2015 (Table 2) for this net; the pruned stage is stored in `pruning`'s relative-index format with fp32 values
and scored as read back from its file.

## What our run measured

Each stage's test accuracy, parameters, MACs, stored bytes and compression ratio against the dense fp32 student and
against the teacher are filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_impls import _container as container
from reference_impls import _export as export
from reference_impls._data import mnist, subset
from reference_impls._measure import count_macs, count_params, threads
from reference_impls._models import LeNet300100
from reference_impls._ort import ort_static_int8
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train
from reference_impls.distillation import distillation_loss, train_teacher, with_teacher_logits
from reference_impls.pruning import (
    index_bits,
    iterative_prune,
    load_sparse,
    pack_bits,
    prunable,
    relative_indices,
    sparsity,
    unpack_bits,
    write_sparse,
)
from reference_impls.quantization import first_output, runtime_accuracy

INPUT_SHAPE = (1, 1, 28, 28)
TEMPERATURE, ALPHA = 4.0, 0.9
# Han et al. 2015, Table 2: the share of LeNet-300-100's weights each layer loses.
PAPER_SPARSITY = {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}


def write_sparse_int8(model: nn.Module, path: Path) -> int:
    """Relative-index gaps, int8 values with a symmetric fp32 scale per output channel, fp32 biases; returns bytes."""
    streams: dict[str, bytes] = {}
    layers: dict[str, Any] = {}
    for name, layer in prunable(model).items():
        weight = layer.weight.detach().flatten(1).numpy()  # one row per output channel
        scale = np.maximum(np.abs(weight).max(axis=1), 1e-12) / 127  # symmetric: zero stays exactly zero
        flat = weight.ravel()
        bits = index_bits(layer)
        gaps, positions = relative_indices(flat, bits)
        rows = positions // weight.shape[1]
        values = np.clip(np.rint(flat[positions] / scale[rows]), -127, 127).astype(np.int8)
        streams[f"{name}.gaps"] = pack_bits(gaps - 1, bits)
        streams[f"{name}.values"] = values.tobytes()
        streams[f"{name}.scales"] = scale.astype("<f4").tobytes()
        streams[f"{name}.bias"] = layer.bias.detach().numpy().astype("<f4").tobytes()
        layers[name] = {"shape": list(layer.weight.shape), "bits": bits, "count": len(gaps)}
    return container.write(path, streams, {"format": "relative-index-int8", "layers": layers})


def load_sparse_int8(model: nn.Module, path: Path) -> nn.Module:
    """Fill `model`'s layers from a file of `write_sparse_int8` alone (weights = int8 value × channel scale)."""
    streams, meta = container.read(path)
    layers = prunable(model)
    with torch.no_grad():
        for name, info in meta["layers"].items():
            shape, count = info["shape"], info["count"]
            positions = np.cumsum(unpack_bits(streams[f"{name}.gaps"], info["bits"], count) + 1) - 1
            scale = container.fp32(streams[f"{name}.scales"], [-1])
            row_length = math.prod(shape[1:])
            flat = np.zeros(math.prod(shape), dtype=np.float32)
            values = np.frombuffer(streams[f"{name}.values"], dtype=np.int8).astype(np.float32)
            flat[positions] = values * scale[positions // row_length]
            layers[name].weight.copy_(torch.from_numpy(flat).view(shape))
            layers[name].bias.copy_(torch.from_numpy(container.fp32(streams[f"{name}.bias"], [-1])))
    return model.eval()


def stage(model: nn.Module, acc: float, stored_bytes: int) -> dict[str, Any]:
    """The figures every stage reports."""
    x = torch.zeros(INPUT_SHAPE)
    return {"accuracy": acc, "params": count_params(model), "macs": count_macs(model, x), "bytes": stored_bytes}


PAPER_VS_OURS = (
    Versus(
        "LeNet-300-100 compression rate",
        "compression_ratio",
        setting="distillation, pruning and int8 (not 5–6-bit clusters and Huffman); files of our format",
        effect="at least 20× smaller file than the student trained alone, at no lower accuracy",
        holds=lambda m: m["compression_ratio"] >= 20 and m["accuracy"] >= m["baseline_accuracy"] - 0.005,
    ),
)


@register("combined", arxiv="1510.00149", catalog_id="han2016deep", input_shape=INPUT_SHAPE, versus=PAPER_VS_OURS)
def student() -> nn.Module:
    """The student that the pipeline distils, prunes and quantizes (LeNet-300-100)."""
    return LeNet300100()


@experiment("combined", seeds=5)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Teacher → distilled student → pruned student → INT8 student, against the student trained from scratch."""
    # Small models: a second thread costs more in synchronisation than it saves, and on a shared machine
    # it competes with the measurement; every figure of this run is single-threaded.
    with threads(1):
        split = mnist()
        if quick:  # a data subset and one epoch per stage: checks the mechanics, not the accuracy
            split = subset(split, train=500, val=100, test=200)
        teacher_epochs, epochs, rounds = (1, 1, 1) if quick else (10, 10, 3)
        test = (split.x_test, split.y_test)

        teacher = train_teacher(split, teacher_epochs, seed)
        seed_everything(seed + 1)
        scratch = train(student(), split, epochs=epochs, seed=seed + 1, desc="student from scratch")
        seed_everything(seed + 1)
        kd = train(
            student(),
            with_teacher_logits(split, teacher),
            epochs=epochs,
            seed=seed + 1,
            desc="student with KD",
            loss_fn=distillation_loss(TEMPERATURE, ALPHA),
        )
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            stages = {
                name: stage(net, accuracy(net, *test), container.write_dense(net, folder / f"{name}.kbpack"))
                for name, net in (("teacher", teacher), ("scratch", scratch), ("distilled", kd))
            }

            # Retraining after each pruning round uses the labels alone (pruning.iterative_prune), at a third of
            # the lr.
            targets = PAPER_SPARSITY if not quick else {name: 0.8 for name in PAPER_SPARSITY}
            iterative_prune(kd, split, targets, rounds=rounds, epochs=max(1, epochs // 3), lr=1e-3 / 3, seed=seed + 2)
            stored = write_sparse(kd, folder / "pruned.kbpack")
            pruned = load_sparse(student(), folder / "pruned.kbpack")
            stages["pruned"] = stage(pruned, accuracy(pruned, *test), stored)
            stages["pruned"]["sparsity"] = sparsity(kd)

            stored = write_sparse_int8(kd, folder / "int8.kbpack")
            decoded = load_sparse_int8(student(), folder / "int8.kbpack")
            stages["int8"] = stage(decoded, accuracy(decoded, *test), stored)

            fp32_path, int8_path = folder / "fp32.onnx", folder / "int8.onnx"
            export.to_onnx(kd, torch.zeros(INPUT_SHAPE), fp32_path, dynamic_batch=True)
            ort_static_int8(str(fp32_path), str(int8_path), split.x_train[:256])
            int8 = first_output(export.load_onnxruntime(int8_path, threads=1))
            stages["int8"] |= {
                "onnxruntime_accuracy": runtime_accuracy(int8, split),
                "onnx_fp32_bytes": fp32_path.stat().st_size,
                "onnx_int8_bytes": int8_path.stat().st_size,
            }

        dense = stages["scratch"]["bytes"]
        for figures in stages.values():
            figures["compression_vs_student"] = dense / figures["bytes"]
            figures["compression_vs_teacher"] = stages["teacher"]["bytes"] / figures["bytes"]
        flat = {f"{name}_{key}": value for name, figures in stages.items() for key, value in figures.items()}
        return {
            "accuracy": stages["int8"]["accuracy"],
            "baseline_accuracy": stages["scratch"]["accuracy"],
            "compression_ratio": stages["int8"]["compression_vs_student"],
            "compressed_file_bytes": stages["int8"]["bytes"],
            **flat,
            "temperature": TEMPERATURE,
            "alpha": ALPHA,
            "seed": seed,
            "quick": quick,
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a data subset and one epoch per stage, for tests")
