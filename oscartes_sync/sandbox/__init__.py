"""Local stand-ins for the remote servers (used by tests, the demo and the benchmarks)."""
