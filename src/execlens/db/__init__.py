"""Storage: engines, sessions, column types and migrations shared by every feature."""
