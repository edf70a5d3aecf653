"""Benchmarks: `python -m bench <nst|sr|instant|bot> [options]` (see bench/__main__.py)."""
