"""Minimal, readable, runnable reference implementations of efficient-DNN techniques.

One module per technique, side by side; each registers itself in `reference_impls._registry`. The `_`-prefixed
modules are the harness they share (timm's convention): `_registry` (ids), `_data` (MNIST, digits, subsets),
`_models` (the LeNets several techniques start from), `_training`, `_measure` (counts, sizes, latency), `_export`
(every mobile format, run back) and `_benchmark` (the records `kb bench impls` writes).
"""
