"""Wires workflows and activities to the task queue; nothing else."""
