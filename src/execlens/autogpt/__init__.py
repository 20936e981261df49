"""Sync runs from a live AutoGPT platform database into execlens."""
