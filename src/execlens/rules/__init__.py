"""Judging rules: which new finished runs to judge, as they arrive."""
