"""Analysis: what a window of live traffic says about the candidate, as values with phases."""
