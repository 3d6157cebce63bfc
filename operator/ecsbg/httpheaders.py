"""A faster `http.client.parse_headers` for the responses the operator reads (ECS through botocore and urllib3,
the Kubernetes API through urllib3): installed by `ecsbg run` (ecsbg.main).

http.client parses every response's header block with the email package's feed parser: with 1,000 releases
starting at once that was about 4 % of the operator's CPU (py-spy), for blocks of plain `Name: value` lines. This
parser builds the same HTTPMessage directly when every line is of that form, and hands any other block (a folded
line, a line without a colon, a name that is not an RFC 9110 token, a block cut short) to the original, whole.
tests/unit/test_httpheaders.py compares the two on both kinds.
"""

from __future__ import annotations

import email.parser
import http.client
import re
from typing import Any

_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_END = (b"\r\n", b"\n")
_original = http.client.parse_headers


def parse_headers(fp: Any, _class: type[http.client.HTTPMessage] = http.client.HTTPMessage
                  ) -> http.client.HTTPMessage:
    lines = http.client._read_headers(fp)  # type: ignore[attr-defined]  # the limits on lines and their count
    if not lines or lines[-1] not in _END:
        return _stdlib(lines, _class)
    headers = []
    for raw in lines[:-1]:
        name, colon, value = raw.decode("iso-8859-1").partition(":")
        if not colon or not _TOKEN.fullmatch(name):  # every line but the last ends with a newline (readline)
            return _stdlib(lines, _class)
        # what email's compat32 policy keeps of a one-line header (Compat32.header_source_parse)
        headers.append((name, value.lstrip(" \t").rstrip("\r\n")))
    message = _class()
    message._headers = headers  # type: ignore[attr-defined]
    message.set_payload("")  # the feed parser's empty body
    return message


def _stdlib(lines: list[bytes], _class: type[http.client.HTTPMessage]) -> http.client.HTTPMessage:
    """What http.client.parse_headers does once it has read the lines."""
    text = b"".join(lines).decode("iso-8859-1")
    return email.parser.Parser(_class=_class).parsestr(text)  # type: ignore[return-value]


def install() -> None:
    """Only where http.client reads the block as this parser expects (CPython 3.11 to 3.13 do)."""
    if hasattr(http.client, "_read_headers"):
        http.client.parse_headers = parse_headers  # type: ignore[assignment]


def uninstall() -> None:
    http.client.parse_headers = _original
