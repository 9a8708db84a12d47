r"""Binary networks: XNOR-Net and binary-weight networks (BWN).

Rastegari, Ordonez, Redmon and Farhadi, *XNOR-Net: ImageNet Classification Using Binary Convolutional Neural
Networks*, ECCV 2016, [arXiv:1603.05279](https://arxiv.org/abs/1603.05279).

**Idea.** Replace each real weight by its sign and one real scale per filter: the *binary-weight network* (BWN)
stores 1 bit per weight instead of 32 and turns multiplications into additions. *XNOR-Net* binarizes the layer's
inputs too, with a scale per spatial position, so a convolution becomes XNOR and popcount on bit vectors.

**Key equations.** For a filter $W$ with $n$ weights and an input patch $I$,

$$W \approx \alpha\,\mathrm{sign}(W),\quad \alpha = \tfrac{1}{n}\lVert W \rVert_1, \qquad
I * W \approx \big(\mathrm{sign}(I) \circledast \mathrm{sign}(W)\big) \odot K \alpha,$$

where $K = A * k$ averages $A = \tfrac{1}{c}\sum_c |I_c|$ over each $d \times d$ window (for a fully connected
layer, $K$ is the mean absolute input per sample). For $a, w \in \{-1, +1\}^n$ packed as bits,
$a \cdot w = n - 2\,\mathrm{popcount}(a \oplus w)$, which is what `xnor_popcount` computes with NumPy on 64-bit
words. The sign has zero gradient almost everywhere, so training uses the *straight-through estimator*: the
gradient passes through $\mathrm{sign}(x)$ unchanged where $|x| \le 1$ and is cut elsewhere; the real-valued
weights are kept for the updates and only their signs are stored.

**Setup.** A LeNet-5-style net on the 3,500 MNIST training images: conv 20@5x5, conv 50@5x5, fc 500, fc 10 with
batch norm. As in the paper, the first and the last layer stay in full precision; conv2 and fc1 (almost all of the
weights) are binarized, in XNOR-Net's block order BN → binary activation → binary layer → pool. The full-precision
baseline is the same architecture with real weights and ReLU, trained in the same run with the same recipe.

**Storage.** A binarized layer is stored as its sign bits packed eight to a byte plus one fp32 $\alpha$ per output
channel. `write_packed` writes the whole model that way (the other layers and the batch-norm statistics in fp32)
into a file of `reference_impls._container`'s format and `read_packed` rebuilds the model from it; the accuracy
is scored on the rebuilt model. `model_storage_ratio` is the dense fp32 file over that file, and `storage_ratio`
the same for the binarized layers' weights alone (files of those tensors; the sign bits alone are 32x smaller).

**Kernel.** With `use_kernel` set, the binary layers run the bit-packed XNOR–popcount kernel instead
of the float reference (`conv2d` on ±1 tensors); the run checks that the logits are bit-for-bit equal.

**Export.** XNNPACK and ONNX Runtime have no 1-bit kernels, so the exported model is the dense equivalent: the
float reference with weights $\alpha\,\mathrm{sign}(W)$ stored in fp32.

## What our run measured

The measured accuracies of the full-precision, BWN and XNOR nets, the storage ratio and the kernel check are
filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from reference_impls import _container as container
from reference_impls._data import mnist, subset
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train

MODES = ("float", "bwn", "xnor")


class SignSTE(torch.autograd.Function):
    """sign(x) with sign(0) = +1 forward; the straight-through estimator backward (gradient kept where |x| <= 1)."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:  # noqa: D102
        ctx.save_for_backward(x)
        return torch.where(x >= 0, 1.0, -1.0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:  # noqa: D102
        (x,) = ctx.saved_tensors
        return grad * (x.abs() <= 1)


def pack_signs(x: torch.Tensor) -> np.ndarray:
    """Rows of `x` as sign bits (1 for x >= 0) in 64-bit words, zero-padded: (rows, ceil(n / 64)) uint64."""
    bits = (x.detach() >= 0).numpy().astype(np.uint8)
    pad = -bits.shape[1] % 64  # padding bits are 0 in both operands, so their XOR adds nothing to the popcount
    return np.ascontiguousarray(np.packbits(np.pad(bits, ((0, 0), (0, pad))), axis=1)).view(np.uint64)


def xnor_popcount(a: np.ndarray, w: np.ndarray, n: int, chunk: int = 2048) -> np.ndarray:
    """Dot products of ±1 vectors from their packed bits: a · w = n - 2 popcount(a XOR w), shape (rows_a, rows_w)."""
    out = np.empty((a.shape[0], w.shape[0]), dtype=np.int64)
    for start in range(0, a.shape[0], chunk):  # chunks bound the (chunk, rows_w, words) temporary
        diff = np.bitwise_count(a[start : start + chunk, None, :] ^ w[None, :, :]).sum(axis=2, dtype=np.int64)
        out[start : start + chunk] = n - 2 * diff
    return out


class BinaryConv2d(nn.Conv2d):
    """A convolution with binary weights (BWN) or binary weights and inputs (XNOR); no padding, stride 1."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, *, xnor: bool) -> None:
        super().__init__(in_channels, out_channels, kernel_size, bias=False)  # batch norm follows: no bias
        self.xnor, self.use_kernel = xnor, False

    def alpha(self) -> torch.Tensor:
        """Per-filter scale: the mean absolute weight, shaped to broadcast over (batch, channel, h, w)."""
        return self.weight.abs().mean(dim=(1, 2, 3)).view(1, -1, 1, 1)

    def input_scale(self, x: torch.Tensor) -> torch.Tensor:
        """K = A * k: the mean absolute input over channels, averaged over each d x d window."""
        d = self.kernel_size[0]
        return F.conv2d(x.abs().mean(dim=1, keepdim=True), torch.full((1, 1, d, d), 1.0 / (d * d)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The float reference, or the bit-packed kernel when `use_kernel` is set (XNOR mode, inference)."""
        if not self.xnor:
            return F.conv2d(x, SignSTE.apply(self.weight)) * self.alpha()
        if self.use_kernel:
            return self.packed_forward(x)
        return F.conv2d(SignSTE.apply(x), SignSTE.apply(self.weight)) * self.input_scale(x) * self.alpha()

    @torch.no_grad()
    def packed_forward(self, x: torch.Tensor) -> torch.Tensor:
        """XNOR-popcount over im2col patches; scaled in the same order as the reference, so results are equal."""
        b, (h, w), d = x.shape[0], x.shape[2:], self.kernel_size[0]
        patches = F.unfold(x, d).transpose(1, 2).reshape(-1, self.weight[0].numel())  # (b * positions, c d d)
        dots = xnor_popcount(pack_signs(patches), pack_signs(self.weight.flatten(1)), patches.shape[1])
        out = torch.from_numpy(dots).float().view(b, h - d + 1, w - d + 1, -1).permute(0, 3, 1, 2)
        return out * self.input_scale(x) * self.alpha()


class BinaryLinear(nn.Linear):
    """A fully connected layer with binary weights (BWN) or binary weights and inputs (XNOR)."""

    def __init__(self, in_features: int, out_features: int, *, xnor: bool) -> None:
        super().__init__(in_features, out_features, bias=False)
        self.xnor, self.use_kernel = xnor, False

    def alpha(self) -> torch.Tensor:
        """Per-output scale: the mean absolute weight of each row."""
        return self.weight.abs().mean(dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """The float reference, or the bit-packed kernel when `use_kernel` is set."""
        if not self.xnor:
            return F.linear(x, SignSTE.apply(self.weight)) * self.alpha()
        beta = x.abs().mean(dim=1, keepdim=True)
        if self.use_kernel:
            with torch.no_grad():
                dots = xnor_popcount(pack_signs(x), pack_signs(self.weight), self.in_features)
            return torch.from_numpy(dots).float() * beta * self.alpha()
        return F.linear(SignSTE.apply(x), SignSTE.apply(self.weight)) * beta * self.alpha()


class BinaryLeNet(nn.Module):
    """LeNet-5-style net in full precision (`float`), with binary weights (`bwn`) or XNOR layers (`xnor`)."""

    def __init__(self, mode: str = "xnor") -> None:
        super().__init__()
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        self.mode, xnor = mode, mode == "xnor"
        self.conv1, self.bn1 = nn.Conv2d(1, 20, 5), nn.BatchNorm2d(20)
        binary = mode != "float"
        self.conv2 = BinaryConv2d(20, 50, 5, xnor=xnor) if binary else nn.Conv2d(20, 50, 5, bias=False)
        self.bn2 = nn.BatchNorm2d(50)
        self.fc1 = BinaryLinear(800, 500, xnor=xnor) if binary else nn.Linear(800, 500, bias=False)
        self.bn3, self.fc2 = nn.BatchNorm1d(500), nn.Linear(500, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of a batch of 1x28x28 images; in XNOR mode the next layer binarizes the batch-normed input."""
        act = (lambda t: t) if self.mode == "xnor" else torch.relu
        x = act(self.bn1(F.max_pool2d(self.conv1(x), 2)))
        x = act(self.bn2(F.max_pool2d(self.conv2(x), 2)))
        return self.fc2(torch.relu(self.bn3(self.fc1(x.flatten(1)))))

    def binary_layers(self) -> list[BinaryConv2d | BinaryLinear]:
        """The binarized layers (none in full precision)."""
        return [m for m in (self.conv2, self.fc1) if isinstance(m, BinaryConv2d | BinaryLinear)]

    def use_kernel(self, enabled: bool) -> None:
        """Route the XNOR layers through the bit-packed kernel (True) or the float reference (False)."""
        for layer in self.binary_layers():
            layer.use_kernel = enabled


def binary_named(model: BinaryLeNet) -> list[tuple[str, BinaryConv2d | BinaryLinear]]:
    """The binarized layers with their names."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, BinaryConv2d | BinaryLinear)]


def packed_weights(layer: BinaryConv2d | BinaryLinear) -> tuple[bytes, bytes]:
    """Stored form of a binarized layer: its sign bits, 8 per byte, and one fp32 scale per output channel."""
    signs = np.packbits((layer.weight.detach() >= 0).flatten().numpy().astype(np.uint8)).tobytes()
    return signs, layer.alpha().detach().flatten().numpy().astype("<f4").tobytes()


def write_packed(model: BinaryLeNet, path: Path, *, binary_only: bool = False) -> int:
    """The model with its binarized layers as sign bits and scales, the rest in fp32; returns the file's size.

    `binary_only` writes the binarized layers' weights alone (for `storage_ratio`).
    """
    layers = {f"{name}.weight": m for name, m in model.named_modules() if isinstance(m, BinaryConv2d | BinaryLinear)}
    streams, meta = {}, {"format": "binary-sign-bits", "binary": {}, "shapes": {}, "integers": {}}
    for key, tensor in model.state_dict().items():
        if key in layers:
            streams[f"{key}.signs"], streams[f"{key}.scales"] = packed_weights(layers[key])
            meta["binary"][key] = list(tensor.shape)
        elif binary_only:
            continue
        elif tensor.is_floating_point():
            streams[key] = tensor.numpy().astype("<f4").tobytes()
            meta["shapes"][key] = list(tensor.shape)
        else:  # batch norm's step counter
            meta["integers"][key] = int(tensor)
    return container.write(path, streams, meta)


def read_packed(path: Path, mode: str) -> BinaryLeNet:
    """A `BinaryLeNet` rebuilt from a file of `write_packed`; each binarized weight is α·sign, all that it uses."""
    streams, meta = container.read(path)
    state = {key: torch.from_numpy(container.fp32(streams[key], shape)) for key, shape in meta["shapes"].items()}
    state |= {key: torch.tensor(value) for key, value in meta["integers"].items()}
    for key, shape in meta["binary"].items():
        n = int(np.prod(shape))
        signs = np.unpackbits(np.frombuffer(streams[f"{key}.signs"], dtype=np.uint8))[:n].astype(np.float32)
        alpha = container.fp32(streams[f"{key}.scales"], [-1])
        weight = (2 * signs - 1).reshape(shape[0], -1) * alpha[:, None]
        state[key] = torch.from_numpy(weight.reshape(shape))
    model = BinaryLeNet(mode)
    model.load_state_dict(state, strict=True)
    return model.eval()


def storage(model: BinaryLeNet) -> dict[str, int]:
    """Bytes of the binarized layers in fp32 and packed, and of the whole model with the rest in fp32."""
    layers = model.binary_layers()
    fp32 = sum(4 * layer.weight.numel() for layer in layers)
    packed = [packed_weights(layer) for layer in layers]
    sign_bytes, scale_bytes = sum(len(s) for s, _ in packed), sum(len(a) for _, a in packed)
    # Batch-norm running statistics are needed at inference, so they count as stored.
    total = sum(4 * t.numel() for t in model.state_dict().values() if t.is_floating_point())
    return {
        "binary_fp32_bytes": fp32,
        "sign_bytes": sign_bytes,
        "scale_bytes": scale_bytes,
        "model_fp32_bytes": total,
        "model_packed_bytes": total - fp32 + sign_bytes + scale_bytes,
    }


PAPER_VS_OURS = (
    Versus(
        "Memory saving of binary weights",
        "storage_ratio",
        setting="the binarized layers' weights, stored as sign bits with one fp32 scale per filter",
        effect="at least 25× smaller weights",
        holds=lambda m: m["storage_ratio"] >= 25,
    ),
    Versus("Convolution speed-up of XNOR-Net", "", setting="not measured: no bit-packed XNOR kernel runs here"),
    Versus(
        "AlexNet BWN ImageNet",
        "bwn_accuracy",
        scale=100,
        setting="a LeNet-5-style net on MNIST, not AlexNet on ImageNet",
        effect="binary weights cost at most 1 pp against fp32",
        holds=lambda m: m["bwn_accuracy"] >= m["baseline_accuracy"] - 0.01,
    ),
    Versus(
        "AlexNet XNOR-Net ImageNet",
        "accuracy",
        scale=100,
        setting="the same net with binary weights and binary inputs, on MNIST",
        effect="binarizing the inputs too costs more than binarizing the weights alone",
        holds=lambda m: m["accuracy"] < m["bwn_accuracy"],
    ),
)


@register(
    "binary", arxiv="1603.05279", catalog_id="rastegari2016xnor", input_shape=(1, 1, 28, 28), versus=PAPER_VS_OURS
)
def xnor_lenet(mode: str = "xnor") -> nn.Module:
    """The XNOR-Net version of the LeNet-5-style net (`mode="bwn"` or `"float"` for the others)."""
    return BinaryLeNet(mode)


@experiment("binary", seeds=5)
def run(quick: bool = False, seed: int = 0) -> dict[str, Any]:
    """Train the full-precision, BWN and XNOR nets alike; measure accuracy, storage and the kernel's exactness."""
    split = subset(mnist()) if quick else mnist()
    acc, models = {}, {}
    for mode in MODES:
        seed_everything(seed)
        models[mode] = train(BinaryLeNet(mode), split, epochs=1 if quick else 6, lr=1e-3, seed=seed, desc=mode)
        acc[mode] = accuracy(models[mode], split.x_test, split.y_test)
    xnor = models["xnor"]
    with torch.no_grad():
        reference = xnor(split.x_test)
        xnor.use_kernel(True)
        kernel = xnor(split.x_test)
        xnor.use_kernel(False)
    sizes = storage(xnor)
    with tempfile.TemporaryDirectory(prefix="kb-binary-") as tmp:
        folder = Path(tmp)
        files = {
            "model_fp32_file_bytes": container.write_dense(xnor, folder / "dense.kbpack"),
            "model_packed_file_bytes": write_packed(xnor, folder / "packed.kbpack"),
            "binary_fp32_file_bytes": container.write(
                folder / "binary-dense.kbpack",
                {f"{n}.weight": m.weight.detach().numpy().astype("<f4").tobytes() for n, m in binary_named(xnor)},
            ),
            "binary_packed_file_bytes": write_packed(xnor, folder / "binary.kbpack", binary_only=True),
        }
        rebuilt = read_packed(folder / "packed.kbpack", "xnor")
    return {
        "accuracy": accuracy(rebuilt, split.x_test, split.y_test),  # the model read back from its packed file
        "accuracy_before_writing": acc["xnor"],
        "bwn_accuracy": acc["bwn"],
        "baseline_accuracy": acc["float"],
        "kernel_exact": torch.equal(reference, kernel),
        "kernel_accuracy": int((kernel.argmax(1) == split.y_test).sum()) / len(split.y_test),
        "storage_ratio": files["binary_fp32_file_bytes"] / files["binary_packed_file_bytes"],
        "sign_bits_ratio": sizes["binary_fp32_bytes"] / sizes["sign_bytes"],
        "model_storage_ratio": files["model_fp32_file_bytes"] / files["model_packed_file_bytes"],
        **sizes,
        **files,
        "seed": seed,
        "quick": quick,
        "curves": {
            "accuracy_vs_bits": [
                {"model": "full precision", "weight_bits": 32, "activation_bits": 32, "accuracy": acc["float"]},
                {"model": "BWN", "weight_bits": 1, "activation_bits": 32, "accuracy": acc["bwn"]},
                {"model": "XNOR-Net", "weight_bits": 1, "activation_bits": 1, "accuracy": acc["xnor"]},
            ]
        },
    }


if __name__ == "__main__":
    experiment_cli(run, __doc__, "a few seconds on a data subset, for tests")
