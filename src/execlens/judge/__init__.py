"""LLM judge: execution digests, prompts, providers, verdicts with provenance, model catalog."""
