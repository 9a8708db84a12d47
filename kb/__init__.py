"""Efficient DNN KB: the catalog, its checks, the site generator, exports and benchmarks behind the `kb` command."""
