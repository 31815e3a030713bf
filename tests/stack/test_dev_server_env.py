"""The dev server gets Go's garbage-collector default, and an operator's own settings win."""

from __future__ import annotations

from stack.services import DEV_SERVER_GO_ENV, dev_server_env


def test_defaults_are_added_to_the_environment() -> None:
    env = dev_server_env({"PATH": "/bin"})
    assert env == {"PATH": "/bin", **DEV_SERVER_GO_ENV}


def test_variables_already_set_are_kept() -> None:
    env = dev_server_env({"GOGC": "100", "GOMEMLIMIT": "512MiB"})
    assert env["GOGC"] == "100" and env["GOMEMLIMIT"] == "512MiB"
