"""The registry of reference implementations.

Every technique module registers the model of its default (paper) configuration under a plain id, the way timm
registers models: `@register("mobilenet_v1", ...)` on a builder function. Tests, `kb impl`, `kb bench` and the site
iterate this registry instead of keeping lists of their own. A module that also runs an experiment on real data
(pruning, distillation, ...) registers it with `@experiment("pruning")`; `kb impl bench ID --json` runs it.
"""

from __future__ import annotations

import argparse
import importlib
import json
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from torch import nn

Builder = Callable[..., nn.Module]
Experiment = Callable[..., dict[str, Any]]


NOT_TRAINED = "not trained on ImageNet here: random weights, so no accuracy to compare"


@dataclass(frozen=True)
class Versus:
    """One row of a page's "paper vs ours" table: a claim of the paper beside our figure for the same quantity.

    Attributes:
        claim: How the claim's `what` in the catalog entry starts (case-insensitive), e.g. "AlexNet parameter".
        ours: The metric of our newest results record; a dotted path reaches into nested metrics
            (`latency.executorch.port_fps`), a function derives the claim's quantity from them (errors from an
            accuracy), and "" says we do not measure it (the `setting` then says why).
        scale: Factor that turns our metric into the claim's unit (accuracy 0.97 → 97 for "%").
        setting: How our measurement differs from the paper's ("LeNet-300-100 on 3,500 MNIST images").
        effect: The effect our run tests, in words ("the pruned net keeps the baseline's accuracy").
        holds: Whether our record's metrics show that effect; None when the row only sets figures side by side.
        within: Instead of `holds`, for a count: the effect is "our figure is within this fraction of the paper's
            value", checked against the claim's value in the catalog (the paper's number is written once, there).
    """

    claim: str
    ours: str | Callable[[dict[str, Any]], float]
    scale: float = 1.0
    setting: str = ""
    effect: str = ""
    holds: Callable[[dict[str, Any]], bool] | None = None
    within: float | None = None


@dataclass
class ImplSpec:
    """What the registry knows about one reference implementation."""

    id: str
    builder: Builder
    arxiv: str | None
    catalog_id: str
    input_shape: tuple[int, ...]
    task: str
    module: str
    experiment: Experiment | None = field(default=None)
    seeds: tuple[int, ...] = (0,)
    versus: tuple[Versus, ...] = ()

    def build(self, **kwargs: Any) -> nn.Module:
        """Build the model; without arguments, the default (paper) configuration."""
        return self.builder(**kwargs)


_REGISTRY: dict[str, ImplSpec] = {}


def register(
    impl_id: str,
    *,
    arxiv: str | None,
    catalog_id: str,
    input_shape: tuple[int, ...],
    task: str = "classification",
    versus: tuple[Versus, ...] = (),
) -> Callable[[Builder], Builder]:
    """Register a model builder under `impl_id`.

    Args:
        impl_id: The id (`mobilenet_v1`); catalog entries name it in `reference_impl`.
        arxiv: The arXiv id of the paper the implementation follows (None for a paper not on arXiv).
        catalog_id: The id of the paper's catalog entry.
        input_shape: The default input shape, batch dimension included.
        task: What the model does (classification, detection, ...).
        versus: The rows of the page's "paper vs ours" table, one per claim of the paper we measure.
    """

    def decorator(builder: Builder) -> Builder:
        if impl_id in _REGISTRY:
            raise ValueError(f"reference implementation {impl_id!r} is registered twice")
        _REGISTRY[impl_id] = ImplSpec(
            id=impl_id,
            builder=builder,
            arxiv=arxiv,
            catalog_id=catalog_id,
            input_shape=tuple(input_shape),
            task=task,
            module=builder.__module__,
            versus=tuple(versus),
        )
        return builder

    return decorator


def experiment(impl_id: str, seeds: int = 1) -> Callable[[Experiment], Experiment]:
    """Attach the default experiment (`run(quick=False, seed=0) -> dict`) to a registered implementation.

    `seeds` is how many seeds (0, 1, ...) `kb bench impls` runs it with by default: at least 3 where it compares
    accuracies, 5 where one run takes under a minute; 1 where the run has no randomness to average over.
    """

    def decorator(run: Experiment) -> Experiment:
        if impl_id not in _REGISTRY:
            raise KeyError(f"register {impl_id!r} with @register before attaching its experiment")
        _REGISTRY[impl_id].experiment, _REGISTRY[impl_id].seeds = run, tuple(range(seeds))
        return run

    return decorator


def discover() -> None:
    """Import every technique module of the package so that its `@register` calls run."""
    package = importlib.import_module("reference_impls")
    for info in pkgutil.iter_modules(package.__path__):
        if not info.name.startswith("_"):  # `_`-prefixed modules are the harness, not techniques (timm's rule)
            importlib.import_module(f"reference_impls.{info.name}")


def all_impls() -> list[ImplSpec]:
    """Every registered implementation, sorted by id."""
    discover()
    return [_REGISTRY[key] for key in sorted(_REGISTRY)]


def get(impl_id: str) -> ImplSpec:
    """The implementation registered as `impl_id`, with the known ids in the error when there is none."""
    discover()
    try:
        return _REGISTRY[impl_id]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY)) or "none yet"
        raise KeyError(f"no reference implementation {impl_id!r}; registered: {known}") from None


def experiment_cli(
    run: Experiment, description: str, quick_help: str, options: dict[str, tuple[type, Any, str]] | None = None
) -> None:
    """The command line of an experiment module: `python -m reference_impls.<module> [--quick] [--seed N]`.

    Runs the default experiment, or its short version with `--quick`, and prints the figures as one JSON object.
    `options` adds the module's own settings (`{"bits": (int, 6, "codebook size")}` gives `--bits`), passed to `run`.
    """
    parser = argparse.ArgumentParser(description=description.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--seed", type=int, default=0, help="seeds the run; the data split never changes")
    for name, (kind, default, help_text) in (options or {}).items():
        parser.add_argument(f"--{name.replace('_', '-')}", type=kind, default=default, help=help_text)
    args = vars(parser.parse_args())
    print(json.dumps(run(**args), indent=2))
