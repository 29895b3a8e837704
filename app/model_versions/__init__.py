"""Model versions: lineage, metrics on the current labels, comparisons."""
