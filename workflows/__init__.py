"""Deterministic orchestration only: read these files top to bottom to know the life of a bill."""
