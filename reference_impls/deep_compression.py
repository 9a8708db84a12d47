r"""Deep Compression: pruning, trained quantization and Huffman coding.

Han, Mao and Dally, *Deep Compression: Compressing Deep Neural Networks with Pruning, Trained Quantization and
Huffman Coding*, ICLR 2016, [arXiv:1510.00149](https://arxiv.org/abs/1510.00149).

**Idea.** Three stages, each shrinking what the previous one left:

1. *Pruning* (`reference_impls.pruning`): remove small weights and retrain; store the survivors with relative
   indices (5-bit gaps for fully connected layers, filler zeros for longer gaps).
2. *Trained quantization*: cluster each layer's surviving weights with k-means into $k = 2^b$ shared values
   (centroids initialised linearly between the smallest and largest weight, which the paper found best), store a
   $b$-bit cluster index per weight plus the codebook, and fine-tune the centroids: the gradient of centroid $c_k$ is
   the sum of the gradients of the weights that share it,
   $$\frac{\partial L}{\partial c_k} = \sum_{i,j} \frac{\partial L}{\partial W_{ij}}\,[I_{ij} = k].$$
3. *Huffman coding* of the cluster indices and of the index gaps: both distributions are far from uniform, so a
   variable-length prefix code stores them in fewer bits than their fixed width.

**Storage.** Everything needed to rebuild the weights goes into one file (`reference_impls._container`'s format):
per layer, the two Huffman bit streams, their code tables (one byte of code length per symbol; the codes are
canonical, so the lengths define them), the fp32 codebook and the fp32 biases, with the symbol counts and shapes in
the file's manifest. The compression ratio divides the size of the dense fp32 file of the same model, in the same
format, by the size of that file. `read_huffman` rebuilds a dense LeNet-300-100 from the file alone, and the
accuracy reported is the decoded model's; the tests check that it round-trips bit-exactly. The stage before
Huffman coding is a file too: fixed-width gaps and cluster indices ($b + 1$ bits, because the filler entries
need a symbol of their own).

**Setup.** LeNet-300-100 on the 3,500 MNIST training images; the baseline is the same network trained in the same
run before compression. The paper's configuration: 6-bit codebooks for the fully connected layers.

**Export.** No mobile runtime executes Huffman-coded, weight-shared sparse layers, so the exported model is the
decoded dense equivalent (fp32 weights drawn from the codebooks); the saving is in storage and download size.

## What our run measured

The measured compression ratio, accuracy against the baseline, the size of each stage and the accuracy-vs-bits
curve are filled in below from the results file of `kb bench` (never typed by hand).
"""

from __future__ import annotations

import heapq
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from reference_impls import _container as container
from reference_impls._data import Split, mnist, subset
from reference_impls._models import LeNet300100
from reference_impls._registry import Versus, experiment, experiment_cli, register
from reference_impls._training import accuracy, seed_everything, train
from reference_impls.pruning import TARGET, pack_bits, prune_model, relative_indices

GAP_BITS = 5  # the paper's index width for fully connected layers
LAYERS = ("fc1", "fc2", "fc3")


class SharedWeightLinear(nn.Module):
    """A pruned linear layer whose surviving weights take one of `2^bits` trainable shared values."""

    def __init__(self, layer: nn.Linear, bits: int, iterations: int = 30) -> None:
        super().__init__()
        weight = layer.weight.detach()
        self.register_buffer("mask", weight != 0)
        alive = weight[self.mask]
        centroids = torch.linspace(float(alive.min()), float(alive.max()), 2**bits)  # linear initialisation
        for _ in range(iterations):  # Lloyd's k-means in one dimension
            index = nearest(alive, centroids)
            sums = torch.zeros_like(centroids).index_add_(0, index, alive)
            counts = torch.bincount(index, minlength=centroids.numel())
            centroids = torch.where(counts > 0, sums / counts.clamp(min=1), centroids)
        self.codebook = nn.Parameter(centroids)
        self.register_buffer("index", nearest(weight, centroids))
        self.bias = nn.Parameter(layer.bias.detach().clone())

    @property
    def weight(self) -> torch.Tensor:
        """The dense weight: each surviving weight is its cluster's centroid, pruned weights are zero."""
        return self.codebook[self.index] * self.mask

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """A linear layer with the shared weights; autograd sums the gradients of each cluster into its centroid."""
        return nn.functional.linear(x, self.weight, self.bias)


def nearest(values: torch.Tensor, centroids: torch.Tensor) -> torch.Tensor:
    """Index of the nearest centroid for every value (centroids stay sorted under Lloyd's iterations)."""
    midpoints = (centroids[1:] + centroids[:-1]) / 2
    return torch.bucketize(values, midpoints)


@dataclass(frozen=True)
class HuffmanStream:
    """Symbols of `range(len(lengths))` in a canonical Huffman code: code lengths, symbol count, packed bits."""

    lengths: bytes
    count: int
    data: bytes


def huffman_lengths(symbols: np.ndarray, alphabet: int) -> list[int]:
    """Code length of every symbol of the alphabet (0 for unused ones), from Huffman's merge of the rarest pair."""
    counts = Counter(symbols.tolist())
    lengths = [0] * alphabet
    heap = [(n, s, [s]) for s, n in sorted(counts.items())]
    heapq.heapify(heap)
    if len(heap) == 1:  # one symbol still needs a 1-bit code
        lengths[heap[0][1]] = 1
    while len(heap) > 1:
        n1, t1, group1 = heapq.heappop(heap)
        n2, t2, group2 = heapq.heappop(heap)
        for s in group1 + group2:  # every symbol under the merged node moves one level deeper
            lengths[s] += 1
        heapq.heappush(heap, (n1 + n2, min(t1, t2), group1 + group2))
    return lengths


def canonical_codes(lengths: list[int]) -> dict[int, str]:
    """The canonical code: symbols sorted by (length, symbol) take consecutive code values."""
    codes, code, previous = {}, 0, 0
    for length, symbol in sorted((n, s) for s, n in enumerate(lengths) if n):
        code <<= length - previous
        codes[symbol] = format(code, f"0{length}b")
        code, previous = code + 1, length
    return codes


def huffman_encode(symbols: np.ndarray, alphabet: int) -> HuffmanStream:
    """Encode integer symbols below `alphabet`."""
    lengths = huffman_lengths(symbols, alphabet)
    codes = canonical_codes(lengths)
    bits = "".join(codes[s] for s in symbols.tolist())
    data = np.packbits(np.frombuffer(bits.encode(), dtype=np.uint8) - ord("0")).tobytes()
    return HuffmanStream(bytes(lengths), len(symbols), data)


def huffman_decode(stream: HuffmanStream) -> np.ndarray:
    """Decode a stream written by `huffman_encode`, bit by bit as a decoder on a device would."""
    table = {code: s for s, code in canonical_codes(list(stream.lengths)).items()}
    out, code = [], ""
    for bit in np.unpackbits(np.frombuffer(stream.data, dtype=np.uint8)).tolist():
        code += "1" if bit else "0"
        if code in table:
            out.append(table[code])
            code = ""
            if len(out) == stream.count:
                break
    return np.asarray(out, dtype=np.int64)


@dataclass(frozen=True)
class EncodedLayer:
    """One compressed layer: Huffman-coded gaps and cluster indices, the fp32 codebook and the fp32 bias."""

    shape: tuple[int, int]
    gaps: HuffmanStream
    values: HuffmanStream
    codebook: bytes
    bias: bytes


def layer_symbols(layer: SharedWeightLinear) -> tuple[np.ndarray, np.ndarray]:
    """The relative-index gaps of a layer's entries and their cluster indices (filler entries get symbol k)."""
    mask = layer.mask.flatten().numpy()
    gaps, positions = relative_indices(mask, GAP_BITS)
    # A filler entry has no cluster: it gets the extra symbol k, which decodes to a zero weight.
    return gaps, np.where(mask[positions], layer.index.flatten().numpy()[positions], layer.codebook.numel())


def encode_layer(layer: SharedWeightLinear) -> EncodedLayer:
    """Relative indices of the surviving weights, then Huffman coding of gaps and cluster indices."""
    gaps, symbols = layer_symbols(layer)
    return EncodedLayer(
        tuple(layer.mask.shape),
        huffman_encode(gaps - 1, 1 << GAP_BITS),
        huffman_encode(symbols, layer.codebook.numel() + 1),
        layer.codebook.detach().numpy().astype("<f4").tobytes(),
        layer.bias.detach().numpy().astype("<f4").tobytes(),
    )


def decode_layer(encoded: EncodedLayer) -> tuple[torch.Tensor, torch.Tensor]:
    """Dense weight and bias from the stored bytes alone."""
    positions = np.cumsum(huffman_decode(encoded.gaps) + 1) - 1
    symbols = huffman_decode(encoded.values)
    codebook = np.append(np.frombuffer(encoded.codebook, dtype="<f4"), np.float32(0.0))  # symbol k: filler
    weight = np.zeros(encoded.shape[0] * encoded.shape[1], dtype=np.float32)
    weight[positions] = codebook[symbols]
    bias = np.frombuffer(encoded.bias, dtype="<f4").copy()
    return torch.from_numpy(weight).view(encoded.shape), torch.from_numpy(bias)


def write_huffman(encoded: dict[str, EncodedLayer], path: Path) -> int:
    """Write the compressed layers to one file; returns its size."""
    streams: dict[str, bytes] = {}
    meta: dict[str, Any] = {"format": "deep-compression-huffman", "layers": {}}
    for name, layer in encoded.items():
        for part in ("gaps", "values"):
            stream = getattr(layer, part)
            streams[f"{name}.{part}.lengths"], streams[f"{name}.{part}.data"] = stream.lengths, stream.data
        streams[f"{name}.codebook"], streams[f"{name}.bias"] = layer.codebook, layer.bias
        meta["layers"][name] = {"shape": list(layer.shape), "gaps": layer.gaps.count, "values": layer.values.count}
    return container.write(path, streams, meta)


def read_huffman(path: Path) -> LeNet300100:
    """A dense LeNet-300-100 rebuilt from a file of `write_huffman` alone."""
    streams, meta = container.read(path)
    model = LeNet300100()
    with torch.no_grad():
        for name, info in meta["layers"].items():
            gaps, values = (
                HuffmanStream(streams[f"{name}.{part}.lengths"], info[part], streams[f"{name}.{part}.data"])
                for part in ("gaps", "values")
            )
            stored = EncodedLayer(
                tuple(info["shape"]), gaps, values, streams[f"{name}.codebook"], streams[f"{name}.bias"]
            )
            weight, bias = decode_layer(stored)
            getattr(model, name).weight.copy_(weight)
            getattr(model, name).bias.copy_(bias)
    return model.eval()


def write_fixed_width(model: LeNet300100, bits: int, path: Path) -> int:
    """The stage before Huffman coding as a file: 5-bit gaps, (b+1)-bit cluster indices, codebooks and biases."""
    streams: dict[str, bytes] = {}
    for name in LAYERS:
        layer = getattr(model, name)
        gaps, symbols = layer_symbols(layer)
        streams[f"{name}.gaps"] = pack_bits(gaps - 1, GAP_BITS)
        streams[f"{name}.index"] = pack_bits(symbols, bits + 1)  # k + 1 symbols: the filler needs its own
        streams[f"{name}.codebook"] = layer.codebook.detach().numpy().astype("<f4").tobytes()
        streams[f"{name}.bias"] = layer.bias.detach().numpy().astype("<f4").tobytes()
    return container.write(path, streams, {"format": "deep-compression-fixed-width", "bits": bits})


def quantize(pruned: LeNet300100, split: Split, *, bits: int, epochs: int, seed: int) -> LeNet300100:
    """A copy of the pruned model with k-means shared weights, centroids and biases fine-tuned."""
    model = LeNet300100()
    for name in LAYERS:
        setattr(model, name, SharedWeightLinear(getattr(pruned, name), bits))
    return train(model, split, epochs=epochs, lr=1e-4, seed=seed, desc=f"fine-tune {bits}-bit centroids")


PAPER_VS_OURS = (
    Versus(
        "LeNet-300-100 compression rate",
        "compression_ratio",
        setting="LeNet-300-100 on 3,500 MNIST training images; dense and compressed files of our format",
        effect="at least 30× smaller file, at most 0.5 pp below the uncompressed baseline",
        holds=lambda m: m["compression_ratio"] >= 30 and m["accuracy"] >= m["baseline_accuracy"] - 0.005,
    ),
)


@register(
    "deep_compression", arxiv="1510.00149", catalog_id="han2016deep", input_shape=(1, 1, 28, 28), versus=PAPER_VS_OURS
)
def lenet_300_100() -> nn.Module:
    """LeNet-300-100, the paper's first MNIST model."""
    return LeNet300100()


@experiment("deep_compression", seeds=5)
def run(quick: bool = False, seed: int = 0, bits: int = 6) -> dict[str, Any]:
    """Prune, quantize and Huffman-code LeNet-300-100; decode it and score the decoded model."""
    split = subset(mnist()) if quick else mnist()
    seed_everything(seed)
    model = LeNet300100()
    stages = dict(base_epochs=1, rounds=2, epochs=1) if quick else dict(base_epochs=15, rounds=3, epochs=5)
    pruned = prune_model(model, split, seed=seed, lr=1e-3, target=TARGET, **stages)
    dense_bytes = pruned["dense_bytes"]
    curve, headline = [], {}
    folder = Path(tempfile.mkdtemp(prefix="kb-deep-compression-"))
    for b in (bits,) if quick else sorted({2, 3, 4, 5, bits, 8}):
        shared = quantize(model, split, bits=b, epochs=1 if quick else 3, seed=seed)
        encoded = {name: encode_layer(getattr(shared, name)) for name in LAYERS}
        stored = write_huffman(encoded, folder / f"huffman-{b}.kbpack")
        decoded = read_huffman(folder / f"huffman-{b}.kbpack")
        point = {
            "bits": b,
            "accuracy": accuracy(decoded, split.x_test, split.y_test),
            "compression_ratio": dense_bytes / stored,
        }
        curve.append(point)
        if b == bits:
            exact = all(
                torch.equal(decoded.state_dict()[f"{n}.{p}"], getattr(getattr(shared, n), p).detach())
                for n in LAYERS
                for p in ("weight", "bias")
            )
            headline = {
                "accuracy": point["accuracy"],
                "shared_model_accuracy": accuracy(shared, split.x_test, split.y_test),
                "decoded_exact": exact,
                "compressed_bytes": stored,
                "quantized_bytes": write_fixed_width(shared, b, folder / f"fixed-{b}.kbpack"),
                "compression_ratio": point["compression_ratio"],
            }
    shutil.rmtree(folder)
    return {
        **headline,
        "baseline_accuracy": pruned["baseline_accuracy"],
        "pruned_accuracy": pruned["accuracy"],
        "sparsity": pruned["sparsity"],
        "bits": bits,
        "dense_bytes": dense_bytes,
        "pruned_bytes": pruned["sparse_bytes"],
        "pruned_ratio": dense_bytes / pruned["sparse_bytes"],
        "quantized_ratio": dense_bytes / headline["quantized_bytes"],
        "seed": seed,
        "quick": quick,
        "curves": {"accuracy_vs_bits": curve, "accuracy_vs_sparsity": pruned["curves"]["accuracy_vs_sparsity"]},
    }


if __name__ == "__main__":
    experiment_cli(
        run, __doc__, "a few seconds on a data subset, for tests", {"bits": (int, 6, "codebook size 2^bits per layer")}
    )
