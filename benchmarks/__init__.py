"""Performance scripts that print ratios; run `python -m benchmarks`."""
