"""Fixtures for extraction tests: explicit settings (never the environment) and a fake Gemini."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shared.settings import ExtractorMode, Settings
from tests.fakes.gemini import FakeGemini


@pytest.fixture
def offline_settings() -> Settings:
    return Settings(extractor=ExtractorMode.AUTO, gemini_api_key=None)


@pytest.fixture
def fake_gemini() -> Iterator[FakeGemini]:
    with FakeGemini() as fake:
        yield fake


@pytest.fixture
def gemini_settings(fake_gemini: FakeGemini) -> Settings:
    return Settings(
        extractor=ExtractorMode.AUTO,
        gemini_api_key="test-key",
        gemini_model="gemini-test",
        gemini_base_url=fake_gemini.url,
        gemini_timeout_seconds=2.0,
    )
