"""The FastAPI application: wiring, shared dependencies and error handlers."""
