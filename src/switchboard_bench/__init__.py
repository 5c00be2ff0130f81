"""Benchmarks run by ``switchboard bench ...``; figures are written as JSON, never asserted."""
