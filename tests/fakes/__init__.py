"""In-process fakes of external services, shared by the test suites."""
