"""Shared request plumbing: dependencies (the one commit point), error answers, limits, headers."""
