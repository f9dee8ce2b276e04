"""The scheduled job: ingestion, windows, metrics, thresholds, alerts and notifications."""
