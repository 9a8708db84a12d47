"""Importing awesome-lists: Markdown items parsed into entries, merged into the catalog."""
