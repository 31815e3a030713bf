"""HTTP in front of Temporal: translates requests to workflow starts, queries and updates."""
