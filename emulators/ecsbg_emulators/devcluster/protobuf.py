"""Decode the few protobuf request bodies kubectl sends: its typed `create` generators (`kubectl create namespace`,
`create configmap`, `create secret generic`) post `application/vnd.kubernetes.protobuf` and client-go does not fall
back to JSON. Everything else kubectl sends (apply, patch, replace) is JSON. Wire format: protobuf encoding spec;
field numbers: k8s.io/api core/v1 generated.proto and apimachinery meta/v1 generated.proto.
"""

from __future__ import annotations

import base64

from .errors import ApiError

MAGIC = b"k8s\x00"


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7


def fields(data: bytes) -> list[tuple[int, int | bytes]]:
    """(field number, value) pairs; length-delimited values stay bytes, varints become ints."""
    out, pos = [], 0
    while pos < len(data):
        key, pos = _varint(data, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, pos = _varint(data, pos)
        elif wire == 2:
            size, pos = _varint(data, pos)
            value, pos = data[pos:pos + size], pos + size
        elif wire in (1, 5):
            size = 8 if wire == 1 else 4
            value, pos = data[pos:pos + size], pos + size
        else:
            raise ValueError(f"unsupported wire type {wire}")
        out.append((number, value))
    return out


def _map(entries: list[bytes], binary: bool = False) -> dict:
    result = {}
    for entry in entries:
        parts = dict(fields(entry))
        value = parts.get(2, b"")
        result[parts.get(1, b"").decode()] = base64.b64encode(value).decode() if binary else value.decode()
    return result


def _object_meta(data: bytes) -> dict:
    meta: dict = {}
    listed: dict[int, list] = {}
    for number, value in fields(data):
        listed.setdefault(number, []).append(value)
    for number, key in ((1, "name"), (2, "generateName"), (3, "namespace")):
        if number in listed:
            meta[key] = listed[number][-1].decode()
    if 11 in listed:
        meta["labels"] = _map(listed[11])
    if 12 in listed:
        meta["annotations"] = _map(listed[12])
    if 14 in listed:
        meta["finalizers"] = [v.decode() for v in listed[14]]
    return meta


def _kind_fields(kind: str, listed: dict[int, list]) -> dict:
    body: dict = {}
    if kind == "ConfigMap":
        if 2 in listed:
            body["data"] = _map(listed[2])
        if 3 in listed:
            body["binaryData"] = _map(listed[3], binary=True)
    elif kind == "Secret":
        if 2 in listed:
            body["data"] = _map(listed[2], binary=True)
        if 3 in listed:
            body["type"] = listed[3][-1].decode()
    elif kind != "Namespace":
        raise ApiError(415, "UnsupportedMediaType", f"protobuf bodies of kind {kind} are not supported by the "
                       "devcluster; use `kubectl apply -f` (JSON) instead")
    return body


def decode(raw: bytes) -> dict:
    if not raw.startswith(MAGIC):
        raise ApiError(400, "BadRequest", "protobuf body without the k8s envelope")
    envelope = dict(fields(raw[len(MAGIC):]))
    type_meta = dict(fields(envelope.get(1, b"")))
    api_version, kind = type_meta.get(1, b"").decode(), type_meta.get(2, b"").decode()
    listed: dict[int, list] = {}
    for number, value in fields(envelope.get(2, b"")):
        listed.setdefault(number, []).append(value)
    body = {"apiVersion": api_version, "kind": kind, "metadata": _object_meta(listed.get(1, [b""])[-1])}
    body.update(_kind_fields(kind, listed))
    return body
