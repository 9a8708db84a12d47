"""Looking papers up in open scholarly sources (arXiv, Crossref) for `kb add`."""
