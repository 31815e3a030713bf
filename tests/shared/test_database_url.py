"""A DATABASE_URL that does not parse is refused without printing any of it (it holds the password)."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from shared.db import DatabaseUrlUnusable, create_pool
from shared.settings import Settings

PASSWORD_TAIL = "Tz7sQ2secretTail"


@pytest.mark.parametrize(
    "url",
    [
        f"postgresql://app:Xk9?{PASSWORD_TAIL}@127.0.0.1:1/db",  # asyncpg: "bad query field: '<rest of it>'"
        f"postgresql://app:Xk9#{PASSWORD_TAIL}@127.0.0.1:1/db",  # "invalid literal for int(): 'Xk9'"
        f"postgresql://app:Xk9/{PASSWORD_TAIL}@127.0.0.1:1/db",
    ],
)
async def test_an_unparsable_url_is_refused_without_quoting_it(app_settings: Settings, url: str) -> None:
    settings = app_settings.model_copy(update={"database_url": SecretStr(url)})
    with pytest.raises(DatabaseUrlUnusable) as refused:
        await create_pool(settings)
    assert refused.value.__suppress_context__, "a traceback would print asyncpg's error, quoting the URL"
    assert "Xk9" not in str(refused.value) and PASSWORD_TAIL not in str(refused.value)
    assert "PGPASSWORD" in str(refused.value)
