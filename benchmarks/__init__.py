"""Benchmarks of the projection library, measured as ratios against a baseline in the same run."""
