"""Collector: validate and append predictions, outcomes and inputs to the landing zone."""
