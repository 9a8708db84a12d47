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

**Key equation.** The storage of a layer after all three stages, in the relative-index format of Deep Compression
(gaps of $b$ bits, fillers included, $n$ entries), with one fp32 scale per output channel and fp32 biases:

$$\mathrm{bytes} = \lceil n b / 8 \rceil + n \cdot 1 + 4\,C_{out} + 4\,C_{out},$$

against $4\,(C_{out} C_{in} + C_{out})$ for the dense fp32 layer. Runtimes have no sparse int8 kernels for these
layers, so the ONNX file holds the dense int8 equivalent; its accuracy is the one reported.

**Setup.** MNIST (3,500 training images). Teacher: `distillation.train_teacher` (the LeNet-5-style conv net,
trained on jittered images). Student: LeNet-300-100 (`pruning.LeNet300100`), trained from scratch as the baseline
and with distillation as stage 1, with the same epochs and seed. Pruning keeps the per-layer rates of Han et al.
2015 (Table 2) for this net; the pruned stage is stored in `pruning`'s relative-index format with fp32 values.

## What our run measured

Each stage's test accuracy, parameters, MACs, stored bytes and compression ratio against the dense fp32 student and
against the teacher are filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

from reference_impls import _export as export
from reference_impls._data import mnist, subset
from reference_impls._measure import count_macs, count_params, threads
from reference_impls._models import LeNet300100
from reference_impls._registry import experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train
from reference_impls.distillation import distillation_loss, train_teacher, with_teacher_logits
from reference_impls.pruning import index_bits, iterative_prune, prunable, relative_indices, sparse_bytes, sparsity
from reference_impls.quantization import first_output, ort_static_int8, runtime_accuracy

INPUT_SHAPE = (1, 1, 28, 28)
TEMPERATURE, ALPHA = 4.0, 0.9
# Han et al. 2015, Table 2: the share of LeNet-300-100's weights each layer loses.
PAPER_SPARSITY = {"fc1": 0.92, "fc2": 0.91, "fc3": 0.74}


def dense_fp32_bytes(model: nn.Module) -> int:
    """4 bytes per weight and bias of the prunable layers."""
    return sum(4 * (m.weight.numel() + m.bias.numel()) for m in prunable(model).values())


def sparse_int8_bytes(model: nn.Module) -> int:
    """Relative-index storage with int8 values, a per-output-channel fp32 scale and fp32 biases (see the page)."""
    total = 0
    for layer in prunable(model).values():
        bits = index_bits(layer)
        entries = len(relative_indices(layer.weight.detach().flatten().numpy(), bits)[0])
        total += math.ceil(entries * bits / 8) + entries + 4 * layer.weight.shape[0] + 4 * layer.bias.numel()
    return total


def stage(model: nn.Module, acc: float, stored_bytes: int) -> dict[str, Any]:
    """The figures every stage reports."""
    x = torch.zeros(INPUT_SHAPE)
    return {"accuracy": acc, "params": count_params(model), "macs": count_macs(model, x), "bytes": stored_bytes}


@register("combined", arxiv="1510.00149", catalog_id="han2016deep", input_shape=INPUT_SHAPE)
def student() -> nn.Module:
    """The student that the pipeline distils, prunes and quantizes (LeNet-300-100)."""
    return LeNet300100()


@experiment("combined")
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
        stages = {
            "teacher": stage(teacher, accuracy(teacher, *test), dense_fp32_bytes(teacher)),
            "scratch": stage(scratch, accuracy(scratch, *test), dense_fp32_bytes(scratch)),
            "distilled": stage(kd, accuracy(kd, *test), dense_fp32_bytes(kd)),
        }

        # Retraining after each pruning round uses the labels alone (pruning.iterative_prune), at a third of the lr.
        targets = PAPER_SPARSITY if not quick else {name: 0.8 for name in PAPER_SPARSITY}
        iterative_prune(kd, split, targets, rounds=rounds, epochs=max(1, epochs // 3), lr=1e-3 / 3, seed=seed + 2)
        stages["pruned"] = stage(kd, accuracy(kd, *test), sparse_bytes(kd))
        stages["pruned"]["sparsity"] = sparsity(kd)

        with tempfile.TemporaryDirectory() as tmp:
            fp32_path, int8_path = os.path.join(tmp, "fp32.onnx"), os.path.join(tmp, "int8.onnx")
            export.to_onnx(kd, torch.zeros(INPUT_SHAPE), Path(fp32_path), dynamic_batch=True)
            ort_static_int8(fp32_path, int8_path, split.x_train[:256])
            int8 = first_output(export.load_onnxruntime(Path(int8_path), threads=1))
            stages["int8"] = stage(kd, runtime_accuracy(int8, split), sparse_int8_bytes(kd))
            stages["int8"] |= {
                "onnx_fp32_bytes": os.path.getsize(fp32_path),
                "onnx_int8_bytes": os.path.getsize(int8_path),
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
            **flat,
            "temperature": TEMPERATURE,
            "alpha": ALPHA,
            "seed": seed,
            "quick": quick,
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a data subset and one epoch per stage, for tests")
