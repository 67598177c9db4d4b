"""Benchmarks of the sync client (DECISIONS §15); see README.md."""
