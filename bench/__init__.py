"""Benchmarks, each measured beside a reference in the same run (see docs/benchmarks.md)."""
