"""A realistic, deterministic demo dataset of agent graphs and their executions."""
