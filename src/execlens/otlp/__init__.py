"""OpenTelemetry in: OTLP/HTTP traces become executions; verdicts go back out as events."""
