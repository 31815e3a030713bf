from shared.lean import skip_unused_optional_imports

skip_unused_optional_imports()

from worker.main import main  # noqa: E402 - after the line above, on purpose

main()
