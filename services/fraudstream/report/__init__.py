"""Render the dashboard's main panels to a PNG (for people without Grafana)."""
