"""Backfill analytics as durable jobs: select, claim, judge, record, report."""
