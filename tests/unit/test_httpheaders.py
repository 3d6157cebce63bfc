"""ecsbg.httpheaders: the message it builds is the one http.client's own parser builds, header block by header
block, plain or not; and the responses botocore and urllib3 read through it carry the same headers."""

from __future__ import annotations

import http.client
import io

import pytest

from ecsbg import httpheaders

PLAIN = [
    b"Content-Type: application/x-amz-json-1.1\r\nx-amzn-RequestId: 3f1c\r\nContent-Length: 12\r\n"
    b"Date: Fri, 04 Dec 2026 12:00:00 GMT\r\n\r\n",
    b"Audit-Id: 1\r\nCache-Control: no-cache, private\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n\r\n",  # repeated
    b"X-Empty:\r\nX-Spaces:   padded value  \r\nX-Tab:\tvalue\r\nX-Colon: a:b:c\r\n\r\n",
    b"X-Latin: caf\xe9\r\n\r\n",  # bytes past ASCII: iso-8859-1, as http.client decodes
    b"Lf-Only: yes\nOther: 1\n\n",
    b"\r\n",  # no headers at all
]
OTHER = [
    b"X-Folded: first\r\n  second line\r\nNext: 1\r\n\r\n",  # obsolete line folding
    b"no colon here\r\nX-After: 1\r\n\r\n",
    b"Bad Name: 1\r\n\r\n",  # a space in the name
    b"From nobody Fri Dec  4 12:00:00 2026\r\nX-A: 1\r\n\r\n",  # the feed parser's unix-from line
    b"X-Cut: 1\r\n",  # the connection closed before the blank line
    b"",
]


def _both(block: bytes) -> tuple[http.client.HTTPMessage, http.client.HTTPMessage]:
    return httpheaders.parse_headers(io.BytesIO(block)), httpheaders._original(io.BytesIO(block))


@pytest.mark.parametrize("block", PLAIN + OTHER)
def test_the_message_is_the_stdlib_one(block):
    ours, theirs = _both(block)
    assert type(ours) is type(theirs)
    # defects are compared by kind: email's defect objects compare by identity
    assert [type(d) for d in ours.defects] == [type(d) for d in theirs.defects]
    assert {**vars(ours), "defects": None} == {**vars(theirs), "defects": None}
    assert ours.items() == theirs.items() and ours.get_payload() == theirs.get_payload()


def test_only_plain_blocks_skip_the_email_parser(monkeypatch):
    used = []
    real = httpheaders._stdlib
    monkeypatch.setattr(httpheaders, "_stdlib", lambda lines, cls: used.append(lines) or real(lines, cls))
    for block in PLAIN:
        httpheaders.parse_headers(io.BytesIO(block))
    assert used == []
    for block in OTHER:
        httpheaders.parse_headers(io.BytesIO(block))
    assert len(used) == len(OTHER)


def test_the_read_stops_at_the_blank_line_and_keeps_the_body():
    fp = io.BytesIO(b"Content-Length: 4\r\n\r\nbody")
    assert httpheaders.parse_headers(fp)["Content-Length"] == "4" and fp.read() == b"body"


def test_the_limits_of_http_client_still_hold():
    with pytest.raises(http.client.HTTPException):
        httpheaders.parse_headers(io.BytesIO(b"X: 1\r\n" * (http.client._MAXHEADERS + 1) + b"\r\n"))


def test_installed_it_is_what_urllib3_responses_are_parsed_with(tmp_path):
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    import urllib3

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the stdlib's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("X-Multi", "a")
            self.send_header("X-Multi", "b")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    calls = []
    real = httpheaders.parse_headers
    httpheaders.install()
    try:
        assert http.client.parse_headers is httpheaders.parse_headers
        original = http.client.parse_headers
        http.client.parse_headers = lambda fp, _class=http.client.HTTPMessage: calls.append(real(fp, _class)) or calls[-1]
        response = urllib3.PoolManager().request("GET", f"http://127.0.0.1:{server.server_port}/")
        http.client.parse_headers = original
    finally:
        httpheaders.uninstall()
        server.shutdown()
    # http.server parses the request's headers with it too: the response's are the ones with X-Multi
    assert [m.get_all("X-Multi") for m in calls if "X-Multi" in m] == [["a", "b"]]
    assert response.status == 200 and response.data == b"{}"
    assert response.headers["Content-Type"] == "application/json" and response.headers["X-Multi"] == "a, b"
    assert http.client.parse_headers is httpheaders._original
