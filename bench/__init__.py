"""``make bench``: MiniMeter's throughput against the Temporal ceiling on the same machine.

``python -m bench.run --bills 1000 --clients 32`` measures, in one run, a no-op
workflow of the same shape (the ceiling), the real pipeline through the REST API,
and extraction alone in-process; see ``bench.run``.
"""
