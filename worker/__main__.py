from shared.lean import skip_unused_optional_imports

skip_unused_optional_imports()

import argparse  # noqa: E402 - after the line above, on purpose

# Before anything starts: ``--help`` (or a stray argument) started a worker polling whatever TEMPORAL_ADDRESS the
# shell held, production's too.
argparse.ArgumentParser(
    prog="python -m worker",
    description="Run a MiniMeter worker: BillIngestionWorkflow and its activities on TEMPORAL_TASK_QUEUE. It takes"
    " no arguments: every setting is an environment variable (README, Configuration).",
).parse_args()

from worker.main import main  # noqa: E402 - after the arguments, on purpose

main()
