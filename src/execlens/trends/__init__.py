"""Accuracy trends, drop alerts and their notifications."""
