"""Benchmarks (issue 6, "Measure speed"): see bench/README.md. Not imported by the app."""
