"""Who started, cancelled or changed what: an append-only audit log."""
