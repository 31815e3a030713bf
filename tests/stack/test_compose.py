"""docker-compose.temporal.yml cannot run here (no Docker engine): check its wiring by reading it."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from temporalio.api.operatorservice.v1 import ListSearchAttributesRequest
from temporalio.api.workflowservice.v1 import DescribeNamespaceRequest

from shared.settings import Settings
from stack.local import WORKER_STOP_MARGIN_SECONDS
from stack.services import temporal_binary
from tests.helpers import start_dev_server
from worker.main import EXIT_WITHIN_SECONDS, SHUTDOWN_MARGIN_SECONDS

COMPOSE = Path(__file__).resolve().parents[2] / "docker-compose.temporal.yml"
DOCKERFILE = COMPOSE.parent / "Dockerfile"
HISTORY_KEPT = timedelta(days=30)
"""How long closed workflows' histories stay (README): a job's Web UI link and ``temporal workflow reset`` need them."""


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def test_has_every_service(services: dict) -> None:
    assert {"temporal", "temporal-db", "temporal-ui", "app-db", "api", "worker"} <= set(services)


def test_temporal_runs_on_postgres(services: dict) -> None:
    env = services["temporal"]["environment"]
    assert env["DB"].startswith("postgres") and env["POSTGRES_SEEDS"] == "temporal-db"
    assert services["temporal"]["depends_on"]["temporal-db"]["condition"] == "service_healthy"


def test_workers_yield_the_cpu_to_the_api_on_a_shared_host(services: dict) -> None:
    default_weight = 1024
    assert services["worker"]["cpu_shares"] < services["api"].get("cpu_shares", default_weight)


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_wait_for_healthy_dependencies(services: dict, name: str) -> None:
    service = services[name]
    assert service["build"] == "."
    deps = service["depends_on"]
    assert deps["app-db"]["condition"] == "service_healthy"
    assert deps["temporal"]["condition"] == "service_healthy"
    env = service["environment"]
    assert env["TEMPORAL_ADDRESS"] == "temporal:7233"
    assert "@app-db:5432/" in env["DATABASE_URL"]
    assert env["ENV"] == "production"


@pytest.mark.parametrize("name", ["api", "worker"])
def test_the_database_password_is_passed_apart_from_the_url(services: dict, name: str) -> None:
    """Pasted into DATABASE_URL, a ``/ # ? @`` in it broke parsing, and the parse error printed part
    of it. asyncpg takes PGPASSWORD when the URL carries none."""
    env = services[name]["environment"]
    assert env["DATABASE_URL"] == "postgresql://minimeter@app-db:5432/minimeter"
    assert env["PGPASSWORD"].startswith("${APP_DB_PASSWORD:?")


def test_admin_tools_is_pinned_to_a_tag_that_exists(services: dict) -> None:
    """Since 1.24 admin-tools has no plain server-version tag (``admin-tools:1.29.1`` cannot be pulled):
    tags are ``<server>-tctl-<x>-cli-<y>``, for the server auto-setup runs."""
    server = services["temporal"]["image"].removeprefix("temporalio/auto-setup:")
    image = services["temporal-setup"]["image"]
    assert re.fullmatch(rf"temporalio/admin-tools:{re.escape(server)}-tctl-\d+\.\d+\.\d+-cli-\d+\.\d+\.\d+", image)


def test_every_services_log_is_bounded(services: dict) -> None:
    """Docker's default json-file driver never rotates: a stack left running filled the host's disk."""
    for name, service in services.items():
        options = service.get("logging", {}).get("options", {})
        assert options.get("max-size") and int(options.get("max-file", 1)) >= 1, name


def test_long_running_services_restart_and_the_setup_runs_once(services: dict) -> None:
    for name, service in services.items():
        expected = "no" if name == "temporal-setup" else "unless-stopped"
        assert service.get("restart") == expected, name


@pytest.mark.parametrize("name", ["api", "worker"])
def test_the_bucket_must_be_named(services: dict, name: str) -> None:
    """Bucket names are global: the default ``minimeter-raw-bills`` is, at best, someone else's."""
    assert services[name]["environment"]["GCS_BUCKET"].startswith("${GCS_BUCKET:?")


def test_docker_waits_for_the_workers_graceful_shutdown(services: dict) -> None:
    """Past ``stop_grace_period`` Docker kills the worker, whatever WORKER_GRACEFUL_SHUTDOWN_SECONDS says."""
    worker = services["worker"]
    grace = float(worker["environment"].get("WORKER_GRACEFUL_SHUTDOWN_SECONDS", 0)) or (
        Settings.model_fields["worker_graceful_shutdown_seconds"].default
    )
    period = re.fullmatch(r"(\d+)s", worker["stop_grace_period"])
    # The worker exits by itself at most this long after its grace, leaving what is still blocked (worker.main).
    leaving = SHUTDOWN_MARGIN_SECONDS + EXIT_WITHIN_SECONDS
    assert period is not None and float(period.group(1)) > grace + leaving
    assert leaving < WORKER_STOP_MARGIN_SECONDS  # make run's kill comes later too


def _image_env() -> dict[str, str]:
    """The ``ENV key=value ...`` lines of the Dockerfile."""
    env: dict[str, str] = {}
    for line in DOCKERFILE.read_text().splitlines():
        if line.startswith("ENV "):
            env.update(pair.partition("=")[::2] for pair in line.removeprefix("ENV ").split())
    return env


def test_the_image_serves_beyond_the_container_as_production() -> None:
    """``docker run -p 8000:8000`` must reach the API, and a forgotten PAYLOAD_KEYS must stop the
    container at start, not give it a key of its own (development's fallback)."""
    env = _image_env()
    assert env["API_HOST"] == "0.0.0.0"
    assert env["ENV"] == "production"


def test_the_image_installs_ci_s_versions_without_the_local_services() -> None:
    """The base install (no ``[local]``: no dev server or Postgres build in it), pinned as CI installs it."""
    [install] = [line for line in DOCKERFILE.read_text().splitlines() if line.startswith("RUN pip install")]
    assert re.match(r"RUN pip install --no-cache-dir -c constraints\.txt \. ", install), install
    assert "COPY pyproject.toml README.md constraints.txt ./" in DOCKERFILE.read_text()


def test_the_build_context_leaves_out_local_state_and_secrets() -> None:
    """``.data`` holds the admin key and the payload keys, ``.env`` compose's secrets: a builder (possibly remote)
    must not receive them, nor the venv; and the image's user is the uid the README's key files are made for."""
    ignored = {line.strip() for line in (COMPOSE.parent / ".dockerignore").read_text().splitlines() if line.strip()}
    assert {".data", ".env", ".venv", ".git"} <= ignored
    assert "useradd --create-home --uid 1000 minimeter" in DOCKERFILE.read_text()


def test_every_stateful_service_has_a_healthcheck(services: dict) -> None:
    for name in ("temporal", "temporal-db", "app-db", "api"):
        assert "healthcheck" in services[name], name


def test_no_credentials_committed() -> None:
    for line in COMPOSE.read_text().splitlines():
        key, _, value = line.strip().partition(":")
        if any(word in key for word in ("PASSWORD", "PWD", "KEYS", "API_KEY")) and value.strip():
            assert value.strip().startswith("${"), f"literal credential in compose file: {line.strip()}"


def test_only_the_api_listens_beyond_the_host(services: dict) -> None:
    """Temporal's frontend and Web UI ask no one who they are: anyone reaching them could reset workflows."""
    published = {name: service.get("ports", []) for name, service in services.items()}
    assert published.pop("api") == ["8000:8000"]
    assert all(port.startswith("127.0.0.1:") for ports in published.values() for port in ports), published


@pytest.mark.parametrize("name", ["api", "worker"])
def test_app_services_are_given_google_credentials_and_a_project(services: dict, name: str) -> None:
    """Without them the API and the workers fail at start-up anywhere but on Google Cloud."""
    env = services[name]["environment"]
    assert env["GCP_PROJECT"].startswith("${GCP_PROJECT:?")
    mounts = [volume.rsplit(":", 2) for volume in services[name]["volumes"]]
    assert [target for _, target, mode in mounts if mode == "ro"] == [env["GOOGLE_APPLICATION_CREDENTIALS"]]


def _setup_command(services: dict, address: str) -> str:
    """temporal-setup's command as its shell runs it (compose turns ``$$`` into ``$``), aimed at ``address``."""
    [command] = services["temporal-setup"]["command"]
    return str(command).replace("$$", "$").replace("temporal:7233", address)


def _run(args: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=180)


async def test_setup_registers_the_search_attributes_and_fails_on_a_clash(services: dict, tmp_path: Path) -> None:
    """Run with the real CLI against dev servers: twice is fine, a clash fails (no ``|| true`` hides it)."""
    path = {"PATH": f"{Path(temporal_binary()).parent}:/usr/bin:/bin"}
    for clash in (False, True):
        server = await start_dev_server(log_file=tmp_path / f"temporal-{clash}.log", with_search_attributes=False)
        try:
            address = server.client.service_client.config.target_host
            setup = ["sh", "-c", _setup_command(services, address)]
            if clash:  # a deployment where JobStatus was registered with another type
                await asyncio.to_thread(
                    _run,
                    [temporal_binary(), "operator", "search-attribute", "create", "--address", address,
                     "--namespace", "default", "--name", "JobStatus", "--type", "Int"],
                )  # fmt: skip
                failed = await asyncio.to_thread(_run, setup, path)
                assert failed.returncode != 0 and "different type" in failed.stderr
                continue
            runs = [await asyncio.to_thread(_run, setup, path) for _ in range(2)]
            assert [run.returncode for run in runs] == [0, 0], [run.stderr for run in runs]
            registered = await server.client.operator_service.list_search_attributes(
                ListSearchAttributesRequest(namespace="default")
            )
            assert {"ReviewStatus", "Provider", "CustomerId", "JobStatus"} <= set(registered.custom_attributes)
            # An existing namespace (here the dev server's, 24h) gets the stack's retention too.
            described = await server.client.workflow_service.describe_namespace(
                DescribeNamespaceRequest(namespace="default")
            )
            assert described.config.workflow_execution_retention_ttl.ToTimedelta() == HISTORY_KEPT
        finally:
            await server.shutdown()


def test_closed_histories_are_kept_for_a_month(services: dict) -> None:
    """auto-setup's default retention is 24h: a day after a job ended its Web UI link was a 404, and
    ``temporal workflow reset`` could no longer recover it."""
    assert services["temporal"]["environment"]["DEFAULT_NAMESPACE_RETENTION"] == f"{HISTORY_KEPT.days * 24}h"
    assert f"--retention {HISTORY_KEPT.days * 24}h" in _setup_command(services, "temporal:7233")


def app_db_connections_needed(services: dict, *, workers: int) -> int:
    """The connection budget (README): every API process's pool, opened whole at start, every worker's at its
    fullest, one pool more for a one-shot command (``api.keys``), and Postgres's 3 reserved for superusers."""
    env = services["api"]["environment"]
    default = re.fullmatch(r"\$\{API_PROCESSES:-(\d+)\}", env["API_PROCESSES"])
    assert default is not None, env["API_PROCESSES"]
    api_processes = int(default.group(1))
    pool_max = int(env.get("DB_POOL_MAX", Settings.model_fields["db_pool_max"].default))
    return (api_processes + workers + 1) * pool_max + 3


def test_app_db_admits_every_pool_with_the_workers_scaled_out(services: dict) -> None:
    """Postgres's default 100 connections ran out at the defaults with two more workers (``--scale worker=4``)."""
    settings = [arg.partition("=") for arg in services["app-db"].get("command", [])]
    limits = [int(value) for name, _, value in settings if name == "max_connections"]
    limit = limits[-1] if limits else 100  # Postgres's default
    scaled_out = 4 * services["worker"]["deploy"]["replicas"]
    assert app_db_connections_needed(services, workers=scaled_out) <= limit


def test_ui_points_at_the_codec_endpoint(services: dict) -> None:
    assert services["temporal-ui"]["environment"]["TEMPORAL_CODEC_ENDPOINT"].endswith("/codec")


@pytest.mark.skipif(shutil.which("docker") is None, reason="docker CLI not installed")
def test_docker_compose_config_is_valid() -> None:
    env = {
        "TEMPORAL_DB_PASSWORD": "x",
        "APP_DB_PASSWORD": "x",
        "PAYLOAD_KEYS": "k:x",
        "GCP_PROJECT": "p",
        "GCS_BUCKET": "b",
        "GCP_CREDENTIALS_FILE": "/dev/null",
        "PATH": "/usr/bin:/bin",
    }
    result = subprocess.run(
        [shutil.which("docker") or "docker", "compose", "-f", str(COMPOSE), "config", "-q"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    if "is not a docker command" in result.stderr or "unknown" in result.stderr.lower():
        pytest.skip("docker compose plugin not installed")
    assert result.returncode == 0, result.stderr


def test_each_worker_serves_metrics_and_is_healthy_while_they_answer(services: dict) -> None:
    """No worker polling said so nowhere: the API's /health stayed ok and the jobs waited without a word."""
    worker = services["worker"]
    port = worker["environment"]["WORKER_METRICS_ADDRESS"].rsplit(":", 1)[1]
    check = " ".join(worker["healthcheck"]["test"])
    assert f"http://localhost:{port}/metrics" in check
    assert "ports" not in worker  # no key guards /metrics: the compose network only
