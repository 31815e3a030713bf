import base64, httpx
from shared.codec import ENCODING

async def test_probe(http: httpx.AsyncClient) -> None:
    bad = {"metadata": {"encoding": base64.b64encode(ENCODING).decode(), "encryption-key-id": base64.b64encode(b"test1").decode()}, "data": base64.b64encode(b"x" * 40).decode()}
    old = {**bad, "metadata": {**bad["metadata"], "encryption-key-id": base64.b64encode(b"retired").decode()}}
    for body in ({"payloads": [bad]}, {"payloads": [old]}, {"payloads": "nope"}, {"nope": 1}):
        r = await http.post("/codec/decode", json=body)
        print("PROBE", r.status_code, r.text[:300])
