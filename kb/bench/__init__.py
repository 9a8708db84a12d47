"""The benchmarks behind `kb bench`: implementations, the link checker and the site at scale."""
