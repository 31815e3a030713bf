"""A refused setting stops ``python -m worker``, ``python -m api`` and ``make run`` with one line naming it."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from shared.settings import Settings
from stack.services import free_port
from tests.helpers import run_entry_point

REFUSED = "minimeter: refused configuration: "
MISPLACED = "not-a-level-but-a-pasted-token-4f9c"  # distinctive: the test looks for it in the output


@pytest.mark.parametrize("module", ["worker", "api", "stack.run"])
def test_a_refused_setting_is_one_line_by_its_variable_name(module: str) -> None:
    """It was a pydantic traceback naming ``log_level``: no JSON line, and not the name an operator sets."""
    done = run_entry_point(module, LOG_LEVEL=MISPLACED, DB_POOL_MAX="twenty")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(REFUSED)
    assert "LOG_LEVEL: Input should be 'DEBUG'" in line and "DB_POOL_MAX: " in line
    assert MISPLACED not in done.stderr + done.stdout


@pytest.mark.parametrize("module", ["worker", "api"])
def test_malformed_payload_keys_are_refused_at_start(module: str) -> None:
    """They were read only when connecting to Temporal: the process died there, as a traceback."""
    done = run_entry_point(module, PAYLOAD_KEYS="k1:not-base64-9f3e!!")
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip() == REFUSED + "PAYLOAD_KEYS: payload key 1 is not valid base64"
    assert "not-base64-9f3e" not in done.stderr + done.stdout


@pytest.mark.parametrize(
    ("setting", "value"), [("GCS_BUCKET", "Bad_Bucket!!"), ("GCS_BUCKET", "ab"), ("BQ_DATASET", "proj.minimeter")]
)
def test_a_bucket_or_dataset_name_that_is_none_is_refused_by_its_variable(setting: str, value: str) -> None:
    """The client refused the name only when the worker looked the bucket up: a 36-line traceback naming no variable
    (an operator's probe, 69C)."""
    done = run_entry_point("worker", **{setting: value})
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip().startswith(f"{REFUSED}{setting}: not a "), done.stderr


@pytest.mark.parametrize("setting", ["GEMINI_API_KEY", "TEMPORAL_API_KEY"])
@pytest.mark.parametrize("pasted", ["\u201cAIzaPASTED7c1\u201d", "AIza PASTED7c1"], ids=["quoted", "spaced"])
def test_an_api_key_no_http_header_can_carry_is_refused_at_start(setting: str, pasted: str) -> None:
    """A Gemini key pasted with its quotes started, then every extraction failed on a UnicodeEncodeError naming no
    variable, retried for 30 minutes (72C). Its material is never echoed."""
    done = run_entry_point("worker", **{setting: pasted})
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    assert done.stderr.strip() == f"{REFUSED}{setting}: has characters an HTTP header cannot carry (a space, or a" + (
        " quote pasted with it?): set the key alone"
    )
    assert "PASTED7c1" not in done.stderr + done.stdout


@pytest.mark.parametrize("module", ["worker", "api"])
def test_a_database_url_mistake_is_refused_before_waiting_for_temporal(module: str) -> None:
    """A port that is no port was refused only as the pool opened, once Temporal had answered: with Temporal down, a
    minute of "not reachable yet" came first (72C). Temporal here never answers, and the start may wait ten minutes:
    were the check still after that wait, ``run_entry_point``'s two minutes would run out."""
    done = run_entry_point(
        module,
        TEMPORAL_ADDRESS=f"127.0.0.1:{free_port()}",
        STARTUP_WAIT_SECONDS="600",
        DATABASE_URL="postgresql://app@127.0.0.1:54x/minimeter",
        LOG_FORMAT="json",
    )
    assert done.returncode != 0
    refusals = [json.loads(line)["message"] for line in done.stdout.splitlines() if "refused to start" in line]
    assert refusals == [f"{module} refused to start: DATABASE_URL's port must be a number from 1 to 65535"], done.stdout
    assert "not reachable yet" not in done.stdout


def test_a_cross_field_refusal_is_one_line_too() -> None:
    done = run_entry_point("worker", REVIEW_SLA="P30D", REVIEW_TIMEOUT="P7D")
    assert done.returncode != 0 and "Traceback" not in done.stderr
    expected = "REVIEW_SLA (30 days, 0:00:00) must be shorter than REVIEW_TIMEOUT (7 days, 0:00:00)"
    assert done.stderr.strip() == REFUSED + expected


@pytest.mark.parametrize(
    ("given", "origins"),
    [
        ("http://localhost:8080", ["http://localhost:8080"]),
        ("http://localhost:8080, https://ui.example.com", ["http://localhost:8080", "https://ui.example.com"]),
        ('["http://localhost:8080"]', ["http://localhost:8080"]),
    ],
)
def test_cors_origins_as_a_person_writes_them(monkeypatch: pytest.MonkeyPatch, given: str, origins: list[str]) -> None:
    """One origin written plainly was a start-up failure: pydantic-settings reads only a JSON list."""
    monkeypatch.setenv("CORS_ORIGINS", given)
    assert Settings().cors_origins == origins


@pytest.mark.parametrize("origins", ["*", "http://localhost:8080,null"])
@pytest.mark.parametrize("module", ["api", "worker"])
def test_cors_origins_letting_every_site_in_are_refused_in_one_line(module: str, origins: str) -> None:
    """The API refused them only as it built its app: a traceback through uvicorn's factory."""
    done = run_entry_point(module, CORS_ORIGINS=origins)
    assert done.returncode != 0 and "Traceback" not in done.stderr + done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(REFUSED + "CORS_ORIGINS: ") and "lets any site read decrypted payloads" in line


def test_a_malformed_cors_list_is_refused_by_name() -> None:
    done = run_entry_point("worker", CORS_ORIGINS='["http://localhost:8080"')
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith(REFUSED + "CORS_ORIGINS: a JSON list that does not parse")


def test_a_client_certificate_path_that_is_no_file_is_refused_at_start(tmp_path: Path) -> None:
    """It was read only when connecting: the worker and the API died there, in a traceback, after start-up."""
    cert = tmp_path / "client.pem"
    cert.write_text("test client certificate\n")
    done = run_entry_point("worker", TEMPORAL_TLS_CERT=str(cert), TEMPORAL_TLS_KEY=str(tmp_path / "client.key"))
    assert done.returncode != 0 and "Traceback" not in done.stderr
    assert done.stderr.strip() == REFUSED + "TEMPORAL_TLS_KEY: no file this process can read there"


@pytest.mark.parametrize("module", ["worker", "api", "worker.alive"])
def test_help_says_how_to_run_it_and_starts_nothing(module: str) -> None:
    """``--help``, a newcomer's first try, started the worker (polling whatever TEMPORAL_ADDRESS the shell held,
    production's too) and served the API; ``worker.alive`` without its arguments was an IndexError's traceback (an
    inheriting engineer's probe, 70A). Settings that would fail any start, so a start cannot pass for help."""
    unstartable = {"LOG_LEVEL": MISPLACED}
    helped = run_entry_point(module, "--help", **unstartable)
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith(f"usage: python -m {module}") and helped.stderr == ""
    stray = run_entry_point(module, "--verbose", **unstartable)
    assert stray.returncode == 2 and stray.stderr.startswith(f"usage: python -m {module}"), stray.stderr
    assert "Traceback" not in stray.stderr and REFUSED not in stray.stderr


def test_uvicorns_own_flags_are_named_as_the_variables_they_are() -> None:
    """``python -m api --workers 2``, as uvicorn takes it, said only "unrecognized arguments" (74B)."""
    stray = run_entry_point("api", "--workers", "2", LOG_LEVEL=MISPLACED)
    assert stray.returncode == 2 and "--workers is API_PROCESSES" in stray.stderr, stray.stderr


def test_an_api_port_taken_is_refused_in_one_line_before_anything_starts() -> None:
    """The API ran its migrations and started its dispatcher and reconciler, said "Application startup complete.",
    then exited on uvicorn's ERROR naming no setting (an operator's probe, 71B). Postgres here is one nobody
    answers at: a start that went further would say so instead."""
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        done = run_entry_point(
            "api", API_HOST="127.0.0.1", API_PORT=str(port), DATABASE_URL="postgresql://nobody@127.0.0.1:1/none"
        )
    assert done.returncode == 3, done.stderr
    output = done.stderr + done.stdout
    assert f"api refused to start: API_HOST:API_PORT=127.0.0.1:{port} cannot be listened on" in output, output
    assert "Traceback" not in output and "startup" not in output.lower()
