"""Benchmarks: timing harnesses of the benchmark tools."""
