"""The machine a measurement ran on, recorded with every result, and the tag that names its results file.

One probe for every benchmark: `kb bench impls` (through `reference_impls._measure`), `kb bench linkcheck` and
`kb bench site` all record the same fields, and their file names carry the same setup tag, CPU model included (two
different 2-core machines must not overwrite each other's results).
"""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
import re
from collections.abc import Iterable
from typing import Any

# The ISA extensions that decide which kernels XNNPACK, oneDNN and ONNX Runtime pick on x86 (and NEON/dotprod on Arm).
ISA_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "f16c",
    "avx512f",
    "avx512bw",
    "avx512_vnni",
    "avx512_bf16",
    "avx_vnni",
    "amx_int8",
    "amx_bf16",
    "asimd",
    "asimddp",
    "sve",
)
# Instructions that multiply-add int8 vectors into int32 in one step; without them int8 kernels widen to 16 bits.
INT8_DOT_PRODUCT = ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp")


def cpu_info() -> dict[str, Any]:
    """CPU model, logical cores and the ISA flags of `ISA_FLAGS` that this CPU has, from /proc/cpuinfo."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                key, _, value = line.partition(":")
                if key.strip() == "model name":
                    model = value.strip()
                elif key.strip() in ("flags", "Features"):
                    flags.update(value.split())
    except OSError:
        pass
    return {"cpu": model, "cores": os.cpu_count(), "isa": [flag for flag in ISA_FLAGS if flag in flags]}


def versions(names: Iterable[str]) -> dict[str, str | None]:
    """Installed versions of the named distributions (None when one is missing)."""
    found: dict[str, str | None] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = None
    return found


def environment(libraries: Iterable[str] = ()) -> dict[str, Any]:
    """The machine, the Python and the versions of `libraries`, and how busy the machine was when asked."""
    return {
        **cpu_info(),
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "load_average": [round(load, 2) for load in os.getloadavg()],
        "versions": versions(libraries),
    }


def measured_at() -> str:
    """The time a record is written, in UTC to the second: what picks the newest of several records."""
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")


def setup_tag(env: dict[str, Any]) -> str:
    """The machine part of a results file name: the CPU model and its cores, e.g. `amd-epyc-2c`."""
    model = re.sub(r"\(.*?\)|\bcpu\b|@.*|processor", "", str(env.get("cpu", "")).lower())
    slug = re.sub(r"[^a-z0-9]+", "-", model).strip("-")[:30].strip("-") or "cpu"
    return f"{slug}-{env.get('cores')}c"
