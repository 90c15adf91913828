"""Serving: the HTTP API over the marts and the platform's Prometheus exporter.

Both are thin adapters over pure query and formatting functions, configured by one typed
settings object read from the environment (`settings.py`).
"""
