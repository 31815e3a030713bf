"""Request bodies a client got wrong are refused whole, with each reason once: nothing is written."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
from pydantic import ValidationError

from shared.bill import Commodity, UsageReading, UsageUnit
from tests.helpers import bill_text, create_account
from worker.resources import Resources


async def test_a_boolean_is_not_an_id(http: httpx.AsyncClient, resources: Resources, unique: str) -> None:
    """``true`` is not row 1: no job starts on, and no account joins, whichever row has that id."""
    account = await create_account(http, provider="pge", account_number=f"BOOL-{unique}")
    jobs_before = await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs")
    accounts_before = await resources.pool.fetchval("SELECT count(*) FROM utility_accounts")

    for path in ("/jobs", "/ingest/run"):
        started = await http.post(path, json={"utility_account_id": True})
        assert started.status_code == 422, started.text
        assert started.json()["errors"][0]["loc"] == ["body", "utility_account_id"]
    attached = await http.post(
        "/utility-accounts", json={"customer_id": True, "provider": "pge", "account_number": f"B2-{unique}"}
    )
    assert attached.status_code == 422, attached.text
    assert attached.json()["errors"][0]["loc"] == ["body", "customer_id"]

    assert await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs") == jobs_before
    assert await resources.pool.fetchval("SELECT count(*) FROM utility_accounts") == accounts_before
    assert (await http.post("/jobs", json={"utility_account_id": account["id"]})).status_code == 201


async def test_a_blank_customer_name_is_refused_and_a_padded_one_trimmed(http: httpx.AsyncClient) -> None:
    blank = await http.post("/customers", json={"name": " \t "})
    assert blank.status_code == 422, blank.text
    assert "blank" in blank.json()["errors"][0]["msg"]
    padded = await http.post("/customers", json={"name": "  Acme Utilities  "})
    assert padded.status_code == 201 and padded.json()["name"] == "Acme Utilities"


@pytest.mark.parametrize("invisible", ["\u200b", "\u200c\u200d", "\u2060", "\ufeff", " \u200b\t\ufeff "])
async def test_a_customer_name_of_invisible_characters_alone_is_blank(http: httpx.AsyncClient, invisible: str) -> None:
    """Zero-width characters passed the blank check: a customer nobody can tell apart from the next one."""
    blank = await http.post("/customers", json={"name": invisible})
    assert blank.status_code == 422, blank.text
    assert "blank" in blank.json()["errors"][0]["msg"]
    kept = await http.post("/customers", json={"name": f"Acme{invisible}Utilities"})
    assert kept.status_code == 201, kept.text


async def test_each_invalid_field_is_reported_once(http: httpx.AsyncClient) -> None:
    """The Idempotency-Key is read by the rate limit and by the route: one mistake, one error."""
    response = await http.post("/jobs", json={"utility_account_id": 1}, headers={"Idempotency-Key": "k" * 201})
    assert response.status_code == 422, response.text
    assert [error["loc"] for error in response.json()["errors"]] == [["header", "Idempotency-Key"]]


async def test_an_upload_of_several_files_is_refused_not_cut_to_one(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """Only the last file would be ingested and the client told 201: every other bill silently lost."""
    account = await create_account(http, provider="pge", account_number=f"MULTI-{unique}")
    other = await create_account(http, provider="pge", account_number=f"MULTJ-{unique}")
    texts = [bill_text(f"MULTI-{unique}", total=total).encode() for total in ("10.00", "20.00")]
    bills = [("file", (f"bill-{n}.txt", text, "text/plain")) for n, text in enumerate(texts)]

    several = await http.post("/bills", files=bills, data={"utility_account_id": str(account["id"])})
    assert several.status_code == 422, several.text
    assert "one file" in several.json()["detail"]
    two_accounts = await http.post(
        "/bills", files=bills[:1], data={"utility_account_id": [str(account["id"]), str(other["id"])]}
    )
    assert two_accounts.status_code == 422, two_accounts.text

    jobs = "SELECT count(*) FROM ingestion_jobs WHERE customer_id = ANY($1::bigint[])"
    assert await resources.pool.fetchval(jobs, [account["customer_id"], other["customer_id"]]) == 0
    one = await http.post("/bills", files=bills[:1], data={"utility_account_id": str(account["id"])})
    assert one.status_code == 201, one.text


async def test_an_upload_field_the_api_does_not_take_is_a_422_not_ignored(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``customer_id`` or ``provider`` beside the file was ignored (201), read as if used, where a JSON body's or a
    query's unknown field is a 422; a file sent as a text field (``-F file=bill.txt``, no ``@``) was answered in
    Starlette's types ("Expected UploadFile, received: <class 'str'>")."""
    account = await create_account(http, provider="pge", account_number=f"FIELD-{unique}")
    bill = ("file", ("bill.txt", bill_text(f"FIELD-{unique}", total="60.00").encode(), "text/plain"))
    extra = await http.post(
        "/bills", files=[bill], data={"utility_account_id": str(account["id"]), "customer_id": "7", "provider": "pge"}
    )
    assert extra.status_code == 422, extra.text
    assert [(e["loc"], e["type"]) for e in extra.json()["errors"]] == [
        (["body", "customer_id"], "extra_forbidden"),
        (["body", "provider"], "extra_forbidden"),
    ]
    assert "it takes: file, utility_account_id" in extra.json()["errors"][0]["msg"]
    text_part = {"file": (None, b"bill.txt")}  # a multipart part with no filename: a text field
    as_text = await http.post("/bills", files=text_part, data={"utility_account_id": str(account["id"])})
    assert as_text.status_code == 422, as_text.text
    assert (
        as_text.json()["errors"][0]["msg"]
        == "send the bill as a file part (curl -F file=@bill.pdf), not as a text field"
    )
    jobs = "SELECT count(*) FROM ingestion_jobs WHERE customer_id = $1"
    assert await resources.pool.fetchval(jobs, account["customer_id"]) == 0


def _multipart(account_id: int, text: str, *, closing: bytes) -> bytes:
    """An upload's body as a client writes it by hand, ending in ``closing``."""
    parts = (
        b'--XYZ\r\nContent-Disposition: form-data; name="utility_account_id"\r\n\r\n%d\r\n' % account_id
        + b'--XYZ\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\nContent-Type: text/plain\r\n\r\n'
    )
    return parts + text.encode() + closing


async def test_an_upload_cut_off_before_its_closing_boundary_is_a_422_saying_so(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """The form parser dropped the file part it was still reading, and the upload was answered "file: Field
    required", though a file was sent (an integrator's probe, 69A)."""
    account = await create_account(http, provider="pge", account_number=f"CUT-{unique}")
    text = bill_text(f"CUT-{unique}", total="60.00")
    headers = {"Content-Type": "multipart/form-data; boundary=XYZ"}

    cut = await http.post("/bills", content=_multipart(account["id"], text, closing=b""), headers=headers)
    assert cut.status_code == 422, cut.text
    assert [(e["loc"], e["type"]) for e in cut.json()["errors"]] == [(["body"], "multipart_incomplete")]
    assert "ends before its closing boundary (--XYZ--)" in cut.json()["errors"][0]["msg"]
    jobs = "SELECT count(*) FROM ingestion_jobs WHERE customer_id = $1"
    assert await resources.pool.fetchval(jobs, account["customer_id"]) == 0

    # A route that reads its body itself answers the same (it was a 500 and a logged traceback).
    agent = await http.post(
        "/agent/run", params={"utility_account_id": account["id"]}, content=b"--XYZ\r\nbody", headers=headers
    )
    assert agent.status_code == 422 and agent.json()["errors"][0]["type"] == "multipart_incomplete", agent.text

    # RFC 2046 lets an epilogue follow the closing delimiter: the whole body is read as before. With its type sent
    # twice, the watcher reads the first, as the form parser does.
    whole = _multipart(account["id"], text, closing=b"\r\n--XYZ--\r\nan epilogue")
    twice = [("Content-Type", "multipart/form-data; boundary=XYZ"), ("Content-Type", "multipart/form-data; boundary=Q")]
    stored = await http.post("/bills", content=whole, headers=twice)
    assert stored.status_code == 201, stored.text
    assert await resources.pool.fetchval(jobs, account["customer_id"]) == 1


async def test_a_json_body_nested_past_the_parsers_depth_is_a_422(http: httpx.AsyncClient) -> None:
    """It was a 400 ``http_error`` "There was an error parsing the body", a status these routes do not document (a
    security probe, 70B)."""
    deep = b"[" * 100_000 + b"]" * 100_000
    refused = await http.post("/customers", content=deep, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {"loc": ["body"], "msg": "the JSON body nests too deeply to read", "type": "json_invalid"}
    ]


async def test_a_json_body_naming_a_field_twice_is_a_422_and_starts_nothing(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``{"utility_account_id": 1, "utility_account_id": 2}`` started a job for account 2 (read last-wins, as a
    decision naming ``action`` twice took its last): a client's serializer bug acted on the wrong account unseen
    (an integrator's probe, 72A). A name repeated in a nested object is refused too."""
    first = await create_account(http, provider="pge", account_number=f"TWICE-A-{unique}")
    second = await create_account(http, provider="pge", account_number=f"TWICE-B-{unique}")
    jobs = "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = ANY($1::bigint[])"
    body = f'{{"utility_account_id": {first["id"]}, "utility_account_id": {second["id"]}}}'
    refused = await http.post("/jobs", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"] == [
        {
            "loc": ["body"],
            "msg": "the JSON body names 'utility_account_id' twice in one object: send each field once",
            "type": "json_invalid",
        }
    ]
    assert await resources.pool.fetchval(jobs, [first["id"], second["id"]]) == 0

    json_type = {"Content-Type": "application/json"}
    nested = '{"name": "Twice", "contact": {"email": "a@example.com", "email": "b@example.com"}}'
    refused = await http.post("/customers", content=nested, headers=json_type)
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["type"] == "json_invalid" and "'email' twice" in error["msg"], "read before the model's own checks"
    # One name in two objects is no repeat: the model's own check answers (a field it does not take).
    apart = '{"name": "Apart", "contact": {"name": "Apart"}}'
    refused = await http.post("/customers", content=apart, headers=json_type)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["type"] == "extra_forbidden", refused.text


async def test_a_multipart_body_the_parser_refuses_is_a_422_in_its_words(http: httpx.AsyncClient) -> None:
    """It was a 400 ``http_error``, a status OpenAPI lists for no route taking a form."""
    refused = await http.post("/bills", content=b"xx", headers={"Content-Type": "multipart/form-data"})
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["type"] == "multipart_invalid" and "boundary" in error["msg"], error


async def test_a_lone_surrogate_in_optional_text_is_a_422_not_a_500(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """JSON's ``\\udc00`` escape decodes to a str Postgres cannot encode: asyncpg failed, a 500."""
    customer = (await http.post("/customers", json={"name": f"Surrogate {unique}"})).json()
    body = f'{{"customer_id": {customer["id"]}, "account_number": "SG-{unique}", "label": "x\\udc00"}}'
    before = await resources.pool.fetchval("SELECT count(*) FROM utility_accounts")
    refused = await http.post("/utility-accounts", content=body, headers={"Content-Type": "application/json"})
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "label"]
    assert "valid Unicode" in refused.json()["errors"][0]["msg"]
    assert await resources.pool.fetchval("SELECT count(*) FROM utility_accounts") == before


async def test_a_json_body_not_in_utf8_is_a_422_saying_so(http: httpx.AsyncClient, resources: Resources) -> None:
    """A Latin-1 "Café" (some clients' default encoding) was a 400 "There was an error parsing the body", which said
    neither what nor where, and OpenAPI lists no 400 for these routes."""
    before = await resources.pool.fetchval("SELECT count(*) FROM customers")
    for path in ("/customers", "/utility-accounts"):
        refused = await http.post(path, content=b'{"name": "Caf\xe9"}', headers={"Content-Type": "application/json"})
        assert refused.status_code == 422, refused.text
        (error,) = refused.json()["errors"]
        assert error["loc"] == ["body", 13] and "not UTF-8 (byte 0xe9 at 13)" in error["msg"], error
    assert await resources.pool.fetchval("SELECT count(*) FROM customers") == before


async def test_optional_text_too_long_is_counted_in_characters(http: httpx.AsyncClient, unique: str) -> None:
    """A label over its bound read "Value should have at most 200 items after validation, not 201"."""
    customer = (await http.post("/customers", json={"name": f"Long label {unique}"})).json()
    body = {"customer_id": customer["id"], "account_number": f"LL-{unique}", "label": "x" * 201}
    refused = await http.post("/utility-accounts", json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["loc"] == ["body", "label"]
    assert refused.json()["errors"][0]["msg"] == "String should have at most 200 characters"


def test_a_meter_number_is_bounded_as_the_bills_other_numbers_are() -> None:
    """A reviewer's correction with a 900,000-character meter number was stored and published to the warehouse."""
    with pytest.raises(ValidationError, match="at most 64 characters"):
        UsageReading(commodity=Commodity.ELECTRICITY, quantity=Decimal(512), unit=UsageUnit.KWH, meter_number="9" * 65)


@pytest.mark.parametrize("account_id", ["2.0", "+2", " 2", "2_0", "2\n\n"])
async def test_an_uploads_account_id_is_digits_only(
    http: httpx.AsyncClient, resources: Resources, unique: str, account_id: str
) -> None:
    """An upload's form read "2.0", "+2" and " 2" as account 2, where a path's id (and a JSON body's) refuses them."""
    account = await create_account(http, provider="pge", account_number=f"FORM-{unique}")
    jobs_before = await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs")
    sent = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(f"FORM-{unique}").encode(), "text/plain")},
        data={"utility_account_id": account_id.replace("2", str(account["id"]), 1)},
    )
    assert sent.status_code == 422, sent.text
    assert sent.json()["errors"][0]["loc"] == ["body", "utility_account_id"]
    assert await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs") == jobs_before


async def test_a_body_of_a_type_its_route_cannot_read_is_a_415_saying_what_to_send(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """A raw PDF sent to the upload read "Field required" twice; JSON sent as text/plain read "Input should be a
    valid dictionary": each a 422 in pydantic's words, where the request's Content-Type was at fault."""
    account = await create_account(http, provider="pge", account_number=f"RAW-{unique}")
    raw = await http.post("/bills", content=b"%PDF-1.4\n", headers={"Content-Type": "application/pdf"})
    assert raw.status_code == 415, raw.text
    assert "multipart/form-data" in raw.json()["detail"] and "application/pdf" in raw.json()["detail"]
    urlencoded = await http.post("/bills", data={"utility_account_id": str(account["id"]), "file": "bill.pdf"})
    assert urlencoded.status_code == 415, urlencoded.text

    as_text = await http.post("/customers", content=b'{"name": "Acme"}', headers={"Content-Type": "text/plain"})
    assert as_text.status_code == 415, as_text.text
    assert "application/json" in as_text.json()["detail"] and "text/plain" in as_text.json()["detail"]
    undeclared = await http.post("/customers", content=b'{"name": "Acme"}', headers={"Content-Type": ""})
    assert undeclared.status_code == 415, undeclared.text
    assert "no Content-Type" in undeclared.json()["detail"]
    typed = await http.post("/customers", content=b'{"name": "Acme"}', headers={"Content-Type": "application/json"})
    assert typed.status_code == 201, typed.text
    assert (
        await resources.pool.fetchval(
            "SELECT count(*) FROM ingestion_jobs WHERE utility_account_id = $1", account["id"]
        )
        == 0
    )


async def test_an_uploads_account_id_read_from_a_file_may_end_its_line(http: httpx.AsyncClient, unique: str) -> None:
    """curl's ``-F utility_account_id=<id.txt`` sends the file's line end with the id."""
    account = await create_account(http, provider="pge", account_number=f"NL-{unique}")
    sent = await http.post(
        "/bills",
        files={"file": ("bill.txt", bill_text(f"NL-{unique}").encode(), "text/plain")},
        data={"utility_account_id": f"{account['id']}\r\n"},
    )
    assert sent.status_code == 201, sent.text


@pytest.mark.parametrize("written", ["2.0", "+2", " 2"])
async def test_an_id_in_a_query_string_is_digits_only(
    http: httpx.AsyncClient, resources: Resources, unique: str, written: str
) -> None:
    """ "?utility_account_id=2.0" started a job on account 2, and "?customer_id=3.0" filtered by customer 3, where a
    path's id and an upload's refuse them."""
    account = await create_account(http, provider="pge", account_number=f"QRY-{unique}")
    as_written = written.replace("2", str(account["id"]))
    jobs_before = await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs")
    started = await http.post("/agent/run", params={"utility_account_id": as_written})
    assert started.status_code == 422, started.text
    assert await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs") == jobs_before
    for path in ("/jobs", "/reviews"):
        listed = await http.get(path, params={"customer_id": written.replace("2", str(account["customer_id"]))})
        assert listed.status_code == 422, (path, listed.text)
        assert listed.json()["errors"][0]["loc"] == ["query", "customer_id"]


async def test_agent_run_refuses_a_body_it_would_not_read(
    http: httpx.AsyncClient, resources: Resources, unique: str
) -> None:
    """``POST /agent/run?utility_account_id=1`` with ``{"utility_account_id": 4}`` started a job for account 1, the
    body unread (an integrator's probe, 69A): a client moving between it and ``POST /jobs`` got the wrong account."""
    first = await create_account(http, provider="pge", account_number=f"AR1-{unique}")
    second = await create_account(http, provider="pge", account_number=f"AR2-{unique}")
    jobs_before = await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs")
    refused = await http.post(
        "/agent/run", params={"utility_account_id": first["id"]}, json={"utility_account_id": second["id"]}
    )
    assert refused.status_code == 422, refused.text
    (error,) = refused.json()["errors"]
    assert error["loc"] == ["body"] and "takes no body" in error["msg"], error
    assert await resources.pool.fetchval("SELECT count(*) FROM ingestion_jobs") == jobs_before
    started = await http.post("/agent/run", params={"utility_account_id": first["id"]})
    assert started.status_code == 201, started.text
