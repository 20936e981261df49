"""execlens: store AI agent executions, judge them with an LLM, track accuracy over time."""

__version__ = "0.1.0"
