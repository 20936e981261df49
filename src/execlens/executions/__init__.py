"""Executions: graphs, executions and node executions, their ingestion and listing."""
