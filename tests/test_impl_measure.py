"""The measuring harness: MAC and parameter counts against hand-computed values, and the timing helpers."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from reference_impls import _measure as measure


class SqueezeExcite(nn.Module):
    def __init__(self, channels: int, squeezed: int) -> None:
        super().__init__()
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.reduce = nn.Conv2d(channels, squeezed, 1)
        self.expand = nn.Conv2d(squeezed, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.expand(torch.relu(self.reduce(self.pool(x)))))


class Small(nn.Module):
    """One of each layer kind whose cost the counter must get right."""

    def __init__(self) -> None:
        super().__init__()
        self.full = nn.Conv2d(3, 8, 3, padding=1, bias=False)  # 10x10 out
        self.depthwise = nn.Conv2d(8, 8, 3, stride=2, padding=1, groups=8, bias=False)  # 5x5 out
        self.grouped = nn.Conv2d(8, 16, 1, groups=4)  # 5x5 out, 2 inputs per group
        self.se = SqueezeExcite(16, 4)
        self.bn = nn.BatchNorm2d(16)
        self.fc = nn.Linear(16, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.se(self.grouped(self.depthwise(self.full(x)))))
        return self.fc(x.mean((2, 3)))


# Hand-computed: output elements × (C_in / groups) × K_h × K_w for convolutions, outputs × inputs for linear.
EXPECTED_MACS = {
    "full": 10 * 10 * 8 * 3 * 3 * 3,  # 21,600
    "depthwise": 5 * 5 * 8 * 1 * 3 * 3,  # 1,800
    "grouped": 5 * 5 * 16 * 2,  # 800
    "se.reduce": 4 * 16,  # on the 1x1 pooled map
    "se.expand": 16 * 4,
    "fc": 10 * 16,
}
EXPECTED_PARAMS = {
    "full": 8 * 3 * 9,
    "depthwise": 8 * 9,
    "grouped": 16 * 2 + 16,
    "se.reduce": 4 * 16 + 4,
    "se.expand": 16 * 4 + 16,
    "bn": 2 * 16,
    "fc": 16 * 10 + 10,
}


def test_per_layer_macs_and_params_match_hand_computed_values():
    layers = {layer.name: layer for layer in measure.layers(Small(), torch.randn(1, 3, 10, 10))}
    for name, macs in EXPECTED_MACS.items():
        assert layers[name].macs == macs, name
    for name, params in EXPECTED_PARAMS.items():
        assert layers[name].params == params, name
    assert layers["bn"].macs == 0 and layers["se.pool"].macs == 0
    assert layers["depthwise"].output_shape == [1, 8, 5, 5]
    assert measure.count_macs(Small(), torch.randn(1, 3, 10, 10)) == sum(EXPECTED_MACS.values())
    assert measure.count_params(Small()) == sum(EXPECTED_PARAMS.values())


def test_macs_scale_with_batch():
    assert measure.count_macs(Small(), torch.randn(3, 3, 10, 10)) == 3 * sum(EXPECTED_MACS.values())


def test_counter_agrees_with_torch_flop_counter_on_a_network_with_se_and_depthwise():
    from reference_impls.efficientnet import EfficientNet

    # A thin, shallow EfficientNet keeps every layer kind (depthwise, SE, linear) and builds in a fraction of B0's time.
    model, x = EfficientNet(width=0.25, depth=0.5, dropout=0.2).eval(), torch.randn(1, 3, 32, 32)
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        model(x)
    assert counter.get_total_flops() == 2 * measure.count_macs(model, x)  # torch counts a MAC as 2 FLOPs


def test_state_dict_size_is_four_bytes_per_value_plus_small_overhead():
    model = nn.Linear(256, 256)
    size = measure.state_dict_bytes(model)
    assert 4 * (256 * 256 + 256) <= size < 4 * (256 * 256 + 256) + 4096


def test_latency_profile_memory_and_environment():
    model, x = Small().eval(), torch.randn(1, 3, 10, 10)
    timing = measure.latency(lambda: model(x), warmup=1, runs=5)
    assert 0 < timing["p50_ms"] <= timing["p90_ms"]
    both = measure.torch_latency(model, x, warmup=1, runs=3)
    assert "threads_1" in both
    rows = measure.profile(model, x, runs=2)
    assert sum(row["time_share"] for row in rows) == pytest.approx(1.0)
    assert {row["name"] for row in rows} >= set(EXPECTED_MACS)
    # 64 MB of fresh tensor: large enough that the allocator maps new pages, so the resident set must rise by it.
    peak = measure.peak_memory_bytes(lambda: torch.ones(4096, 4096).sum())
    if Path("/proc/self/clear_refs").exists():
        assert peak is not None and peak >= 48_000_000
    env = measure.environment()
    assert env["cores"] >= 1 and env["versions"]["torch"].startswith("2.") and isinstance(env["isa"], list)


def test_paired_latency_alternates_the_two_calls():
    calls: list[str] = []
    first_ms, second_ms = measure.paired_latency(lambda: calls.append("a"), lambda: calls.append("b"), warmup=2, runs=5)
    assert calls == ["a", "b"] * 7
    assert first_ms > 0 and second_ms > 0


def test_onnxruntime_node_times_lists_the_executed_nodes_in_order(tmp_path):
    path = str(tmp_path / "small.onnx")
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8 * 8 * 8, 4)).eval()
    torch.onnx.export(model, (torch.randn(1, 3, 10, 10),), path, input_names=["x"], dynamo=True, verbose=False)
    nodes = measure.onnxruntime_node_times(path, {"x": np.zeros((1, 3, 10, 10), np.float32)}, runs=3)
    ops = [op for op, _ in nodes]
    assert ops[0] == "Conv" and ops.index("Conv") < ops.index("Gemm")
    assert all(us > 0 for _, us in nodes)


def test_eager_load_rebuilds_the_same_weights():
    model = Small().eval()
    loaded = measure.eager_load(Small, model)()
    x = torch.randn(1, 3, 10, 10)
    assert torch.equal(model(x), loaded(x))


def test_a_files_peak_memory_is_measured_in_a_fresh_process_and_counts_its_activations(tmp_path):
    from reference_impls._export import to_onnx

    # One 3×3 convolution to 64 channels at 256×256: its output alone is 64 · 254² · 4 bytes ≈ 16.5 MB.
    model, x = nn.Conv2d(3, 64, 3).eval(), torch.randn(1, 3, 256, 256)
    to_onnx(model, x, tmp_path / "conv.onnx")
    peak = measure.file_peak_memory("onnxruntime", tmp_path / "conv.onnx", x.numpy())
    if peak is None:
        pytest.skip("this kernel cannot reset the peak resident size (/proc/self/clear_refs)")
    assert 64 * 254 * 254 * 4 <= peak < 500e6
    with pytest.raises(RuntimeError, match=r"conv\.onnx in onnxruntime failed"):
        measure.file_peak_memory("onnxruntime", tmp_path / "conv.onnx", np.zeros((1, 5), np.float32))
