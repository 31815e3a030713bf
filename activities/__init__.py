"""Idempotent activities, grouped by the system they touch; each says what makes it safe to rerun."""
