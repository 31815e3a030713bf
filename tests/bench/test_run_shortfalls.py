"""A bench run that falls short exits 1, says why, keeps the stack's logs and names what the FAILED jobs died of."""

from __future__ import annotations

import json
import re
import shutil
import signal
from pathlib import Path
from typing import Any

import pytest

from bench import run
from tests.bench.conftest import ceiling_result, pipeline_result


def test_a_ceiling_round_that_stalled_or_failed_is_no_reference() -> None:
    """Its rate counts only the workflows that closed: the ratio would compare the pipeline with a part."""
    assert ceiling_result(10, 10).shortfalls() == []
    assert ceiling_result(10, 6, failed=1).shortfalls() == [
        "ceiling: only 7 of 10 workflows closed",
        "ceiling: 1 workflows failed",
    ]
    before = ceiling_result(10, 10)
    before.after = ceiling_result(10, 8)
    assert before.shortfalls() == ["ceiling after the pipeline: only 8 of 10 workflows closed"]


def test_the_run_counts_the_ceilings_shortfalls_with_the_pipelines() -> None:
    outcome = run.Outcome(ceiling=ceiling_result(10, 9, failed=1), pipeline=pipeline_result(10, {"SUCCEEDED": 10}))
    assert run.shortfalls_of(outcome) == ["ceiling: 1 workflows failed"]
    assert run.shortfalls_of(run.Outcome(pipeline=pipeline_result(10, {"SUCCEEDED": 10}))) == []


def test_failed_jobs_group_by_step_and_error_type() -> None:
    errors = [
        "fetch_bill: ArtifactStoreUnavailable: connection refused to 127.0.0.1:9023",
        "fetch_bill: ArtifactStoreUnavailable: read timed out",
        "extract_bill: ExtractionInvalid: no total",
    ]
    reasons = pipeline_result(5, {"FAILED": 3, "SUCCEEDED": 2}, errors=errors).as_json()["failure_reasons"]
    assert reasons == {"fetch_bill: ArtifactStoreUnavailable": 2, "extract_bill: ExtractionInvalid": 1}


class StackThatStartsNothing:
    """``BenchStack`` without its processes: ``measure`` is replaced, so nothing is started or used."""

    def __init__(self, data_dir: Path, **_: Any) -> None:
        self.local = self
        self.worker_env: dict[str, str] = {}  # what the JSON's niceness is read from; no worker is started

    def start_services(self) -> None:
        pass

    def settings(self) -> None:
        return None

    def close(self) -> None:
        pass


def run_bench(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], results: Path, outcome: run.Outcome
) -> tuple[int, str, str, Path]:
    """``bench.run.main`` on ``outcome``: its exit code, stdout, stderr and the data dir it made."""

    async def measured(*_: Any) -> run.Outcome:
        return outcome

    monkeypatch.setattr(run, "BenchStack", StackThatStartsNothing)
    monkeypatch.setattr(run, "measure", measured)
    monkeypatch.setattr(run, "stop_on_sigterm", lambda: None)  # the test process keeps its own SIGTERM
    monkeypatch.setattr(run, "finish_stopping_undisturbed", lambda: None)  # and its Ctrl-C
    args = ["--bills", "10", "--skip-extraction", "--no-plot", "--no-progress", "--results-dir", str(results)]
    code = run.main(args)
    out, err = capsys.readouterr()
    match = re.search(r"starting the stack in (\S+)", out)
    assert match is not None, out
    return code, out, err, Path(match[1])


def test_a_run_short_of_its_bills_exits_1_keeps_its_logs_and_names_what_failed(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    errors = ["store_raw_bill: ArtifactStoreUnavailable: connection refused"] * 2
    short = run.Outcome(pipeline=pipeline_result(10, {"SUCCEEDED": 6, "FAILED": 2}, errors=errors))
    code, _, err, data_dir = run_bench(monkeypatch, capsys, tmp_path / "results", short)
    try:
        assert code == 1
        assert data_dir.is_dir(), "the stack's logs are kept for a run that fell short"
        assert f"data and logs kept in {data_dir}" in err
        assert "bench: FAILED 2x: store_raw_bill: ArtifactStoreUnavailable" in err
        assert "bench: only 8 of 10 bills settled: the run is no measurement" in err
        [written] = (tmp_path / "results").glob("*.json")
        document = json.loads(written.read_text())
        assert document["shortfalls"] == ["only 8 of 10 bills settled", "2 bills FAILED"]
        assert document["pipeline"]["failure_reasons"] == {"store_raw_bill: ArtifactStoreUnavailable": 2}
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_run_with_a_stalled_ceiling_exits_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    stalled = run.Outcome(ceiling=ceiling_result(10, 7), pipeline=pipeline_result(10, {"SUCCEEDED": 10}))
    code, _, err, data_dir = run_bench(monkeypatch, capsys, tmp_path / "results", stalled)
    try:
        assert code == 1
        assert "bench: ceiling: only 7 of 10 workflows closed: the run is no measurement" in err
        assert data_dir.is_dir()
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)


def test_a_full_run_exits_0_and_removes_its_data(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    full = run.Outcome(ceiling=ceiling_result(10, 10), pipeline=pipeline_result(10, {"SUCCEEDED": 9, "DUPLICATE": 1}))
    code, _, err, data_dir = run_bench(monkeypatch, capsys, tmp_path / "results", full)
    kept = data_dir.exists()
    shutil.rmtree(data_dir, ignore_errors=True)
    assert code == 0 and "no measurement" not in err
    assert not kept and "kept" not in err


class StackInterruptedWhileStopping(StackThatStartsNothing):
    """A stack whose stop is interrupted again: a second Ctrl-C while it waits on the worker's graceful shutdown."""

    stopped = False

    def close(self) -> None:
        signal.raise_signal(signal.SIGINT)
        type(self).stopped = True


def test_a_second_ctrl_c_while_the_stack_stops_does_not_cut_the_stop_short(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """Interrupted, the bench stops its stack (up to a minute and more): a second Ctrl-C there left Temporal, the
    emulators, the worker and the API running, each in a session of its own."""

    async def interrupted(*_: Any) -> run.Outcome:
        raise KeyboardInterrupt

    monkeypatch.setattr(run, "BenchStack", StackInterruptedWhileStopping)
    monkeypatch.setattr(run, "measure", interrupted)
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    try:
        with pytest.raises(KeyboardInterrupt):
            run.main(["--bills", "10", "--no-plot", "--no-progress", "--results-dir", str(tmp_path)])
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        match = re.search(r"starting the stack in (\S+)", capsys.readouterr().out)
        if match is not None:
            shutil.rmtree(match[1], ignore_errors=True)
    assert StackInterruptedWhileStopping.stopped
