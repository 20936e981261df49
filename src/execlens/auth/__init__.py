"""Admin authentication: JWT bearer tokens and API keys."""
