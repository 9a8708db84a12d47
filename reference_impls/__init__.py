"""Minimal, readable, runnable reference implementations of efficient-DNN techniques.

One module per technique, side by side; each registers itself in `reference_impls._registry`. The `_`-prefixed
modules are the harness they share (timm's convention):

- `_registry` (ids), `_data` (MNIST, digits, subsets), `_models` (the LeNets several techniques start from),
  `_training`, `_container` (the compressed file formats our code writes and reads back);
- `_measure` (counts, sizes, latency), `_export` (every mobile format, run back), `_pt2e` (PT2E int8, blocks
  kept in fp32), `_benchmark` (the records `kb bench impls` writes);
- for the ports of shipped models: `_shipped` (the fetched `.tflite` files and photographs), `_tflite` (reading a
  `.tflite` file's graph and weights), `_detection` (anchors, decoding, blending, agreement), `_face_set` (the
  labelled composites) and `_shipped_bench` (each runtime beside the original, and int8 of the port).
"""
