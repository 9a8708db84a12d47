"""Minimal, readable, runnable reference implementations of efficient-DNN techniques.

One module per technique; each registers itself in `reference_impls.registry`.
"""
