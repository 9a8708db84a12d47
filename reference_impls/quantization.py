r"""Quantization: INT8 inference with post-training static quantization and quantization-aware training.

Jacob, Kligys, Chen, Zhu, Tang, Howard, Adam and Kalenichenko, *Quantization and Training of Neural Networks for
Efficient Integer-Arithmetic-Only Inference*, CVPR 2018, [arXiv:1712.05877](https://arxiv.org/abs/1712.05877).

**Idea.** Store weights and activations as 8-bit integers with an affine map to the reals, and run convolutions as
integer matrix products with 32-bit accumulators. Weights shrink 4× and the kernels move 4× fewer bytes; where the
CPU has int8 dot-product instructions (x86 VNNI, Arm `sdot`) they also do more multiply-adds per cycle. Scales come
either from a few calibration batches after training (post-training quantization, PTQ) or from training with the
rounding simulated in the forward pass (quantization-aware training, QAT), so that the weights learn to live with it.

**Key equation.** A real value $r$ is represented by an integer $q$, a scale $S$ and a zero point $Z$ (Eq. 1):

$$r = S\,(q - Z).$$

Weights are symmetric ($Z = 0$) with one scale per output channel; activations get one scale and zero point per
tensor. Training simulates $\hat r = S\,(\mathrm{clamp}(\lfloor r/S \rceil + Z, q_{min}, q_{max}) - Z)$ and
passes gradients straight through the rounding.

**Setup.** A MobileNet-style net (a full 3×3 convolution, then depthwise-separable layers, `reference_impls.separable`)
trained on the 3,500 MNIST training images; the fp32 baseline is trained in the same run. Four INT8 versions, all
calibrated on the same 256 training images (never test images):

- PT2E with ExecuTorch's XNNPACK quantizer (per-channel weights), lowered to a `.pte` with the XNNPACK delegate
  and run back with `executorch.runtime`;
- ONNX Runtime static quantization in QDQ format with per-channel weights, int8 on a CPU with an int8 dot-product
  instruction and uint8 on one without (there `vpmaddubsw` saturates on u8×s8 products, see below);
- a full-integer LiteRT `.tflite` (int8 weights, activations, input and output) from litert-torch's PT2E
  quantizer, run back with the LiteRT interpreter and its XNNPACK delegate;
- QAT with PT2E: batch norm folded first (`fold_batchnorm`), then one epoch of fine-tuning with fake quantization
  at a small learning rate, lowered to ExecuTorch like the PTQ model. That epoch is extra training the fp32
  baseline does not get, so QAT's accuracy is not a pure measure of the rounding's cost.

Each runtime's INT8 model is compared with the fp32 model *in the same runtime, in the same run*: size of the file,
test accuracy computed by the runtime itself, and latency at one thread, fp32 and int8 timed alternately call by
call: at batch 1 (one image, the phone's case) and at batch 32 (throughput, `_batch32` keys). No runtime is picked
as "the" result: the `runtimes` table lists all three side by side, with the int8 instructions the CPU has.

**Why the speedup depends on the CPU and on the batch.** With VNNI (`avx512_vnni`, `avx_vnni`) or Arm's `sdot`, one
instruction does four int8 multiply-adds per 32-bit lane, four times the fp32 FMA's work. Without them, kernels widen
first, and the two runtimes widen differently. ONNX Runtime's MLAS multiplies unsigned activations by signed
weights with `vpmaddubsw` (32 u8×s8 products per instruction, summed in pairs into 16 bits, saturating: two
products of 255 and 127 overflow int16, which is why weights are uint8 on such a CPU, MLAS's U8U8 path), more work
per instruction than fp32; XNNPACK's int8 kernels for AVX2 sign-extend both operands to 16 bits (`vpmovsx`) and use
`vpmaddwd` (16 products, but each needs its widening and an add: no better than two fp32 FMAs), so on such a CPU
its int8 program is no faster than its well-tuned fp32 one and only the 4× smaller file remains. The batch matters too:
at batch 1 the pointwise layers' matrix products have only 16 to 196 rows, the depthwise and first convolutions (dot
products of 9 terms) gain nothing from int8, and the (de)quantize and layout nodes at the graph's edges cost a fixed
time; at batch 32 the pointwise products dominate. The `onnxruntime layers` table below splits ONNX Runtime's
batch-1 time by layer from its own profiler, and the ISA flags of the machine are recorded with the results.

**What would make int8 2× faster here.** The `int8 probe` table times one 1×1 convolution alone in ONNX Runtime
at widths 32 to 512, batch 1, one thread, in three quantized forms: uint8 activations in QDQ format (the
default), int8 activations, and the fused QLinearConv operator. It tells two limits apart. Where the widest layers
pass 2× and our network does not, the difference is the network's size: its fixed costs (quantize and dequantize at
the edges, layout changes, the depthwise and first convolutions, which int8 does not speed up) outweigh its small
matrix products, and the per-layer table shows which layers are below that size. Where even the 512-channel layer
stays under 2× in every form, no choice of operator form, fusion or batch gets a network of these layers there on
this CPU: the lever left is the instruction set (VNNI on x86, `sdot` on Arm), which is why the record names the
CPU's flags beside the figures.

## What our run measured

Accuracy, size ratio and speedup per runtime, with the ISA flags of the machine, are filled in below from the
results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import copy
import tempfile
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval

from kb.bench.environment import INT8_DOT_PRODUCT, cpu_info
from reference_impls import _export as export
from reference_impls._data import Split, mnist, subset
from reference_impls._measure import onnxruntime_node_times, paired_latency, threads
from reference_impls._ort import ort_static_int8, ort_weight_type
from reference_impls._pt2e import export_graph, pt2e_int8, xnnpack_quantizer
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train
from reference_impls.separable import DepthwiseSeparableConv, conv_bn

INPUT_SHAPE = (1, 1, 28, 28)
Runner = Callable[[np.ndarray], np.ndarray]
THROUGHPUT_BATCH = 32


class SmallMobileNet(nn.Module):
    """A full 3×3 stride-2 convolution, five depthwise-separable layers doubling channels, pool, classifier."""

    def __init__(self, width: int = 64, num_classes: int = 10) -> None:
        super().__init__()
        plan = [(2 * width, 1), (4 * width, 2), (4 * width, 1), (8 * width, 2), (8 * width, 1)]
        layers: list[nn.Module] = [conv_bn(1, width, 3, stride=2)]
        channels = width
        for c_out, stride in plan:
            layers.append(DepthwiseSeparableConv(channels, c_out, 3, stride))
            channels = c_out
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(channels, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class logits."""
        # keepdim: XNNPACK delegates a global average pool but not a mean that drops dimensions, which would split
        # the program in two with a portable-kernel op between the halves.
        return self.classifier(self.features(x).mean((2, 3), keepdim=True).flatten(1))


class ExportedTrainer(nn.Module):
    """Wraps an exported graph so that `train()`/`eval()` switch its batch norm and fake quantizers correctly."""

    def __init__(self, graph: nn.Module) -> None:
        super().__init__()
        self.graph = graph

    def train(self, mode: bool = True) -> ExportedTrainer:
        """Exported graphs refuse `.train()`; torchao's helpers rewrite their batch-norm and dropout ops instead."""
        from torchao.quantization.pt2e import move_exported_model_to_eval, move_exported_model_to_train

        (move_exported_model_to_train if mode else move_exported_model_to_eval)(self.graph)
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Run the wrapped graph."""
        return self.graph(x)


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """A copy of `model` with every batch norm folded into the convolution before it (Jacob et al., Sec. 3.2).

    Inference needs no batch norm, and a graph without it spares PT2E's QAT its conv-bn pattern matching (over a
    hundred traced patterns, minutes on two cores); QAT then fine-tunes with the statistics frozen, as the paper
    does late in training.
    """
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, nn.Sequential):
            for i in range(len(module) - 1):
                if isinstance(module[i], nn.Conv2d) and isinstance(module[i + 1], nn.BatchNorm2d):
                    module[i] = fuse_conv_bn_eval(module[i], module[i + 1])
                    module[i + 1] = nn.Identity()
    return folded


def ptq_pt2e(model: nn.Module, calibration: torch.Tensor) -> nn.Module:
    """Post-training static INT8 with PT2E and the XNNPACK quantizer, calibrated on `calibration` images."""
    return pt2e_int8(model, calibration, batch=64)


def qat_pt2e(model: nn.Module, split: Split, *, epochs: int, seed: int) -> nn.Module:
    """Quantization-aware fine-tuning of a trained model with PT2E fake quantization, then conversion to INT8."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_qat_pt2e

    graph = export_graph(model.train(), torch.zeros(64, *INPUT_SHAPE[1:]), dynamic_batch=True)
    prepared = ExportedTrainer(prepare_qat_pt2e(graph, xnnpack_quantizer(qat=True)))
    # A small learning rate: the weights only adjust to the rounding, they are already trained.
    train(prepared, split, epochs=epochs, lr=1e-4, seed=seed, desc="QAT")
    return convert_pt2e(prepared.graph)


def first_output(runner: export.Runner) -> Runner:
    """A harness runner (all outputs) as `logits(x)`: the classifier has one output."""
    return lambda x: runner(x)[0]


def executorch_pair(model: nn.Module, ptq: nn.Module, batch: int, folder: Path) -> tuple[list[Path], list[Runner]]:
    """fp32 and int8 `.pte` programs (XNNPACK, one thread) at one batch size: their files and runners."""
    files, runners = [], []
    for name, net in (("fp32", model), ("int8", ptq)):
        path = folder / f"{name}-b{batch}.pte"
        export.to_pte(net, torch.zeros(batch, *INPUT_SHAPE[1:]), path)
        files.append(path)
        runners.append(first_output(export.load_pte(path, threads=1)))
    return files, runners


def litert_pair(
    model: nn.Module, calibration: torch.Tensor, batch: int, folder: Path
) -> tuple[list[Path], list[Runner]]:
    """fp32 and full-integer int8 `.tflite` files (LiteRT, XNNPACK delegate, one thread) at one batch size."""
    files, runners = [], []
    for name, images in (("fp32", None), ("int8", calibration)):
        path = folder / f"{name}-b{batch}.tflite"
        export.to_tflite(model, torch.zeros(batch, *INPUT_SHAPE[1:]), path, calibration=images)
        files.append(path)
        runners.append(first_output(export.load_tflite(path, threads=1)))
    return files, runners


def int8_weight_fraction(onnx_path: str) -> float:
    """Share of the ONNX file's weight elements (initializers of 2+ dimensions) stored in 8 bits (int8 or uint8)."""
    import onnx

    weights = [t for t in onnx.load(onnx_path).graph.initializer if len(t.dims) >= 2]
    eight_bit = (onnx.TensorProto.INT8, onnx.TensorProto.UINT8)
    int8 = sum(int(np.prod(t.dims)) for t in weights if t.data_type in eight_bit)
    return int8 / sum(int(np.prod(t.dims)) for t in weights)


def runtime_accuracy(logits: Callable[[np.ndarray], np.ndarray], split: Split) -> float:
    """Test accuracy computed by the runtime itself, one image at a time."""
    x, y = split.x_test.numpy(), split.y_test.numpy()
    return float(np.mean([logits(x[i : i + 1]).argmax() == y[i] for i in range(len(y))]))


def timings(suffix: str, fp32: Runner, int8: Runner, x: np.ndarray, runs: int) -> dict[str, float]:
    """fp32 and int8 median latency (ms) on `x` and their ratio, under keys ending in `suffix`."""
    fp32_ms, int8_ms = paired_latency(lambda: fp32(x), lambda: int8(x), runs=runs)
    return {f"fp32_ms{suffix}": fp32_ms, f"int8_ms{suffix}": int8_ms, f"speedup{suffix}": fp32_ms / int8_ms}


def compare(
    runtime: str,
    single: tuple[Runner, Runner],
    batched: tuple[Runner, Runner],
    sizes: tuple[int, int],
    split: Split,
    runs: int,
) -> dict[str, Any]:
    """One runtime's figures: accuracies, file sizes, latencies at batch 1 and at `THROUGHPUT_BATCH`, ratios."""
    (fp32, int8), (fp32_bytes, int8_bytes) = single, sizes
    x = np.zeros(INPUT_SHAPE, dtype=np.float32)
    x_batch = np.zeros((THROUGHPUT_BATCH, *INPUT_SHAPE[1:]), dtype=np.float32)
    return {
        f"fp32_accuracy_{runtime}": runtime_accuracy(fp32, split),
        f"accuracy_{runtime}": runtime_accuracy(int8, split),
        f"fp32_bytes_{runtime}": fp32_bytes,
        f"int8_bytes_{runtime}": int8_bytes,
        f"size_ratio_{runtime}": fp32_bytes / int8_bytes,
        **timings(f"_{runtime}", fp32, int8, x, runs),
        # Fewer runs: each call does THROUGHPUT_BATCH images' work.
        **timings(f"_batch{THROUGHPUT_BATCH}_{runtime}", *batched, x_batch, max(10, runs // 4)),
    }


RUNTIMES = {"executorch": "ExecuTorch (XNNPACK)", "onnxruntime": "ONNX Runtime (QDQ)", "litert": "LiteRT (XNNPACK)"}


def runtime_table(results: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per runtime: accuracy, file sizes and int8 speed-up at batch 1 and at `THROUGHPUT_BATCH`."""
    batched = f"batch{THROUGHPUT_BATCH}"
    return [
        {
            "runtime": name,
            "fp32 accuracy": results[f"fp32_accuracy_{key}"],
            "int8 accuracy": results[f"accuracy_{key}"],
            "fp32 file bytes": results[f"fp32_bytes_{key}"],
            "int8 file bytes": results[f"int8_bytes_{key}"],
            "size ratio": results[f"size_ratio_{key}"],
            "int8 speed-up, batch 1": results[f"speedup_{key}"],
            f"int8 speed-up, batch {THROUGHPUT_BATCH}": results[f"speedup_{batched}_{key}"],
        }
        for key, name in RUNTIMES.items()
    ]


PROBE_CHANNELS = (32, 64, 128, 256, 512)
PROBE_FORMS = {"u8 QDQ": {}, "s8 QDQ": {"signed": True}, "u8 QLinearConv": {"operators": True}}


def int8_probe(folder: Path, runs: int) -> list[dict[str, Any]]:
    """One 1×1 convolution + ReLU at 14×14, batch 1, ONNX Runtime, one thread: int8 speed-up by width and form.

    The experiment's network is small, so its int8 time is mostly fixed costs; this probe asks how large a
    pointwise layer must be before the int8 kernels (with VNNI where the CPU has it) pay, and which quantized form
    ONNX Runtime runs fastest. Weights are random and calibration uses random inputs: only time is measured.
    """
    rows = []
    for channels in PROBE_CHANNELS:
        torch.manual_seed(channels)
        layer = nn.Sequential(nn.Conv2d(channels, channels, 1), nn.ReLU()).eval()
        x = torch.randn(1, channels, 14, 14)
        image = x.numpy()
        fp32_path = folder / f"probe-{channels}.onnx"
        export.to_onnx(layer, x, fp32_path)
        fp32 = first_output(export.load_onnxruntime(fp32_path, threads=1))
        row: dict[str, Any] = {"channels": channels, "MACs": channels * channels * 14 * 14}
        for form, options in PROBE_FORMS.items():
            int8_path = folder / f"probe-{channels}-{form.replace(' ', '-')}.onnx"
            ort_static_int8(str(fp32_path), str(int8_path), torch.randn(16, channels, 14, 14), **options)
            int8 = first_output(export.load_onnxruntime(int8_path, threads=1))
            fp32_ms, int8_ms = paired_latency(partial(fp32, image), partial(int8, image), runs=runs)
            row |= {"fp32 µs": 1e3 * fp32_ms, f"{form} speed-up": fp32_ms / int8_ms}
        rows.append(row)
    return rows


def layer_times(model: nn.Module, fp32_path: str, int8_path: str, runs: int) -> list[dict[str, Any]]:
    """ONNX Runtime's batch-1 kernel time per convolution, fp32 against int8, and everything else in one row.

    Both optimized graphs run the convolutions in the model's order (fp32 as fused `Conv`, int8 as `QLinearConv`),
    so the n-th convolution node of each belongs to the n-th `nn.Conv2d` of the model.
    """
    x = {"x": np.zeros(INPUT_SHAPE, dtype=np.float32)}
    fp32 = onnxruntime_node_times(fp32_path, x, runs=runs)
    int8 = onnxruntime_node_times(int8_path, x, runs=runs)
    fp32_convs = [us for op, us in fp32 if op == "Conv"]
    int8_convs = [us for op, us in int8 if op == "QLinearConv"]
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    if not len(fp32_convs) == len(int8_convs) == len(convs):
        raise RuntimeError(f"{len(convs)} convolutions, but {len(fp32_convs)} fp32 and {len(int8_convs)} int8 nodes")
    rows = []
    for conv, fp32_us, int8_us in zip(convs, fp32_convs, int8_convs, strict=True):
        kind = "depthwise" if conv.groups > 1 else "pointwise" if conv.kernel_size == (1, 1) else "full"
        layer = f"{kind} {conv.kernel_size[0]}×{conv.kernel_size[1]}, {conv.in_channels}→{conv.out_channels}"
        rows.append({"layer": layer, "fp32_us": fp32_us, "int8_us": int8_us, "speedup": fp32_us / int8_us})
    rest = (sum(us for _, us in fp32) - sum(fp32_convs), sum(us for _, us in int8) - sum(int8_convs))
    rows.append({"layer": "other nodes (quantize, layout, pool, classifier)", "fp32_us": rest[0], "int8_us": rest[1]})
    return rows


# The paper's figures are for ResNet-50 on ImageNet and MobileNet SSD on a Snapdragon 835; ours are for the small
# MNIST net on this machine's CPU. ExecuTorch is the row's runtime, chosen before any run; the other two are in the
# runtimes table, and `holds` asks the effect of all three.
PAPER_VS_OURS = (
    Versus(
        "ResNet-50 ImageNet top-1, integer-quantized",
        "accuracy_executorch",
        scale=100,
        setting="MNIST test accuracy of the PT2E int8 net in ExecuTorch, not ResNet-50 on ImageNet",
        effect="int8 stays within the paper's 1.5-point loss (76.4 → 74.9) of our fp32 net in every runtime",
        holds=lambda m: all(m["baseline_accuracy"] - m[f"accuracy_{r}"] <= 0.015 for r in RUNTIMES),
    ),
    Versus(
        "Model size reduction of 8-bit",
        "size_ratio_executorch",
        setting="fp32 file ÷ int8 file of the same net in ExecuTorch (.pte); the paper gives the 4× of 32 → 8 bits",
        effect="every runtime's int8 file is at least 3× smaller than its fp32 file",
        holds=lambda m: all(m[f"size_ratio_{r}"] >= 3 for r in RUNTIMES),
    ),
    Versus(
        "Running-time reduction of 8-bit",
        lambda m: 100 * (1 - 1 / m["speedup_executorch"]),
        setting="batch-1 latency of int8 against fp32 in ExecuTorch-XNNPACK, one thread, alternated call by call",
        effect="int8 is faster than fp32 in every runtime",
        holds=lambda m: all(m[f"speedup_{r}"] > 1 for r in RUNTIMES),
    ),
)


@register(
    "quantization",
    arxiv="1712.05877",
    catalog_id="jacob2018quantization",
    input_shape=INPUT_SHAPE,
    versus=PAPER_VS_OURS,
)
def small_mobilenet(width: int = 64) -> nn.Module:
    """The MobileNet-style MNIST net that the experiment quantizes."""
    return SmallMobileNet(width)


@experiment("quantization", seeds=5)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train the fp32 net, quantize it four ways (PT2E→ExecuTorch, ONNX Runtime QDQ, LiteRT, QAT), measure each."""
    # Small models: a second thread costs more in synchronisation than it saves, and on a shared machine
    # it competes with the measurement; every figure of this run is single-threaded.
    with threads(1):
        split = mnist()
        if quick:  # a thin net on a data subset: checks the mechanics and the int8 graphs, not the accuracy
            split = subset(split, train=500, val=100, test=200)
        width, epochs, runs = (16, 3, 20) if quick else (64, 4, 100)
        seed_everything(seed)
        model = train(small_mobilenet(width), split, epochs=epochs, lr=2e-3, seed=seed, desc="fp32 baseline")
        model = fold_batchnorm(model)  # the same function; every runtime folds batch norm anyway
        baseline = accuracy(model, split.x_test, split.y_test)
        calibration = split.x_train[:256]

        ptq = ptq_pt2e(model, calibration)
        ptq_accuracy = accuracy(ExportedTrainer(ptq), split.x_test, split.y_test)
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            files, single = executorch_pair(model, ptq, 1, folder)
            # An ExecuTorch program has one static shape: the throughput figures need programs of their own.
            _, batched_runners = executorch_pair(model, ptq, THROUGHPUT_BATCH, folder)
            sizes = (files[0].stat().st_size, files[1].stat().st_size)
            results = compare("executorch", tuple(single), tuple(batched_runners), sizes, split, runs)

            fp32_onnx, int8_onnx = folder / "fp32.onnx", folder / "int8.onnx"
            export.to_onnx(model, torch.zeros(INPUT_SHAPE), fp32_onnx, dynamic_batch=True)
            ort_static_int8(str(fp32_onnx), str(int8_onnx), calibration)
            runners = tuple(first_output(export.load_onnxruntime(p, threads=1)) for p in (fp32_onnx, int8_onnx))
            sizes = fp32_onnx.stat().st_size, int8_onnx.stat().st_size
            results |= compare("onnxruntime", runners, runners, sizes, split, runs)
            results["int8_weight_fraction_onnxruntime"] = int8_weight_fraction(str(int8_onnx))
            layers = layer_times(model, str(fp32_onnx), str(int8_onnx), runs)
            probe = int8_probe(folder, runs)

            files, single = litert_pair(model, calibration, 1, folder)
            _, batched_runners = litert_pair(model, calibration, THROUGHPUT_BATCH, folder)
            sizes = (files[0].stat().st_size, files[1].stat().st_size)
            results |= compare("litert", tuple(single), tuple(batched_runners), sizes, split, runs)

            qat = qat_pt2e(copy.deepcopy(model), split, epochs=1, seed=seed + 1)  # leave the baseline untouched
            qat_pte = folder / "qat.pte"
            export.to_pte(qat, torch.zeros(INPUT_SHAPE), qat_pte)
            results["qat_accuracy_executorch"] = runtime_accuracy(first_output(export.load_pte(qat_pte, 1)), split)
        results["qat_accuracy"] = accuracy(ExportedTrainer(qat), split.x_test, split.y_test)

        isa = cpu_info()["isa"]
        return {
            # The paper's path (PT2E, integer-only XNNPACK kernels) is the headline, chosen before the run.
            "accuracy": results["accuracy_executorch"],
            "baseline_accuracy": baseline,
            "ptq_accuracy": ptq_accuracy,
            **results,
            "params": sum(p.numel() for p in model.parameters()),
            "isa": ",".join(isa),
            "int8_dot_product": any(flag in isa for flag in INT8_DOT_PRODUCT),
            "onnxruntime_weight_type": ort_weight_type(),
            "threads": 1,
            "seed": seed,
            "quick": quick,
            "int8_probe_best_speedup": max(v for row in probe for k, v in row.items() if k.endswith("speed-up")),
            "tables": {"runtimes": runtime_table(results), "onnxruntime_layers": layers, "int8_probe": probe},
        }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a thin net on a data subset, for tests")
