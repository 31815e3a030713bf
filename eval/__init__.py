"""Evaluation: a seeded generator of synthetic bills, the committed set, and the harness."""
