"""``GET /secrets/check``: which secrets are set, and where the payload keys come from, never a value."""

from __future__ import annotations

import httpx
import pytest
from pydantic import SecretStr

from api.main import create_app
from shared.settings import Settings
from tests.helpers import serve


@pytest.mark.parametrize("configured", [None, SecretStr(""), SecretStr("k1:" + "AQ" * 21 + "A=")])
async def test_the_check_says_payloads_are_sealed_with_the_key_file_where_no_keys_are_set(
    app_settings: Settings, admin_key: str, configured: SecretStr | None
) -> None:
    """A local stack (no PAYLOAD_KEYS) said "payload_keys: false", read as payloads not encrypted; they are, with the
    key file under DATA_DIR. An empty PAYLOAD_KEYS= (a compose file's) is unset too."""
    settings = app_settings.model_copy(update={"payload_keys": configured})
    async with serve(create_app(settings)) as url, httpx.AsyncClient(base_url=url) as api:
        answer = await api.get("/secrets/check", headers={"Authorization": f"Bearer {admin_key}"})
    assert answer.status_code == 200, answer.text
    set_keys = configured is not None and configured.get_secret_value() != ""
    assert (answer.json()["payload_keys"], answer.json()["payload_key_file"]) == (set_keys, not set_keys)
    assert all(isinstance(present, bool) for present in answer.json().values())
