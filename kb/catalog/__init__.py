"""The catalog: the schema of an entry, its vocabularies, loading YAML with line marks, and the named rules."""
