"""The worker (``python -m worker``), which wires workflows and activities to the task queue, and
one admin command beside it: ``python -m worker.republish_analytics`` writes every stored bill to
the warehouse again."""
