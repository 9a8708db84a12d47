"""The site: generated Markdown pages, implementation pages, charts, exports and the MkDocs build."""
