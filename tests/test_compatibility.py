"""The client's compatibility check without sockets: the schema's URL, when to check, the
verdict on two bundles, and what the client does with it."""

from __future__ import annotations

import copy
import json
import warnings
from typing import Any

import pytest

from datadivr import IncompatibleProtocolError, IncompatibleProtocolWarning
from datadivr.client._compatibility import (
    incompatibility,
    needs_check,
    read_bundle,
    resolve,
    schema_url,
)
from datadivr.client._session import Session, Welcomed
from datadivr.compat import Side, fingerprint
from datadivr.demo import PROTOCOL


@pytest.mark.parametrize(
    ("ws", "http"),
    [
        ("ws://127.0.0.1:8765/ws", "http://127.0.0.1:8765/schema"),
        ("wss://example.test/chat/ws", "https://example.test/chat/schema"),
        ("WSS://example.test/a/b/ws?token=t", "https://example.test/a/b/schema?token=t"),
        ("ws://[::1]:9000/ws", "http://[::1]:9000/schema"),
        ("ws://h/", "http://h/schema"),
    ],
)
def test_the_schema_is_beside_the_websocket(ws: str, http: str) -> None:
    assert schema_url(ws) == http


def test_only_another_fingerprint_is_checked() -> None:
    assert not needs_check("fp1-a", None, "raise")
    assert not needs_check("fp1-a", "fp1-a", "raise")
    assert needs_check("fp1-a", "fp1-b", "raise")
    assert needs_check("fp1-a", "fp1-b", "warn")
    assert not needs_check("fp1-a", "fp1-b", "ignore")


@pytest.mark.parametrize("body", [b"", b"[]", b"not json", b'"text"'])
def test_a_body_that_is_no_object_is_refused(body: bytes) -> None:
    with pytest.raises(ValueError, match=r"JSON|Expecting|not a JSON object"):
        read_bundle(body)


def _changed(change: str) -> dict[str, Any]:
    """The demo's bundle with one change."""
    bundle = copy.deepcopy(PROTOCOL.schema)
    defs = bundle["$defs"]
    if change == "required":  # client_to_server, stricter: old clients' messages are refused
        defs["SumEventPayload"]["properties"]["unit"] = {"type": "string"}
        defs["SumEventPayload"]["required"].append("unit")
    elif change == "unbounded":  # client_to_server, looser: breaks servers only
        del defs["SumEventPayload"]["properties"]["numbers"]["maxItems"]
    return bundle


def test_a_change_that_breaks_clients_is_an_error() -> None:
    server = _changed("required")
    error = incompatibility(
        PROTOCOL.schema,
        server,
        client_fingerprint=PROTOCOL.fingerprint,
        server_fingerprint=fingerprint(server),
    )
    assert isinstance(error, IncompatibleProtocolError)
    assert Side.CLIENTS in error.diff.breaks
    assert str(error) == error.headline == error.diff.headline(Side.CLIENTS)
    assert error.headline.startswith("breaks clients: sum_event: ")
    assert (error.client_fingerprint, error.server_fingerprint) == (
        PROTOCOL.fingerprint,
        fingerprint(server),
    )


def test_a_change_that_breaks_only_servers_is_none() -> None:
    server = _changed("unbounded")
    assert fingerprint(server) != PROTOCOL.fingerprint
    verdict = incompatibility(
        PROTOCOL.schema, server, client_fingerprint="a", server_fingerprint="b"
    )
    assert verdict is None


def test_a_document_that_is_no_protocol_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="not a bundled datadivr protocol"):
        incompatibility(
            PROTOCOL.schema, {"type": "object"}, client_fingerprint="a", server_fingerprint="b"
        )


def _error() -> IncompatibleProtocolError:
    error = incompatibility(
        PROTOCOL.schema, _changed("required"), client_fingerprint="a", server_fingerprint="b"
    )
    assert error is not None
    return error


def test_raise_raises_the_error() -> None:
    error = _error()
    with pytest.raises(IncompatibleProtocolError) as info:
        resolve(error, "raise")
    assert info.value is error


def test_warn_warns_with_its_text() -> None:
    error = _error()
    with pytest.warns(IncompatibleProtocolWarning) as record:
        resolve(error, "warn")
    assert [str(w.message) for w in record] == [error.headline]


def test_ignore_does_nothing() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        resolve(_error(), "ignore")


def test_the_session_keeps_the_welcomes_fingerprint() -> None:
    session = Session(PROTOCOL)
    welcome = {"event_name": "welcome", "payload": {"client_id": "c1", "fingerprint": "fp1-x"}}
    assert session.receive(json.dumps(welcome)) == Welcomed("c1", "fp1-x")
    assert session.server_fingerprint == "fp1-x"
    # A server that names none (older, or its welcome does not declare it): nothing to check.
    assert session.receive(json.dumps({"event_name": "welcome", "payload": {"client_id": "c2"}}))
    assert session.server_fingerprint is None


def test_the_client_refuses_an_unknown_policy() -> None:
    from datadivr.demo import Client

    with pytest.raises(ValueError, match="on_incompatible must be one of"):
        Client(on_incompatible="fail")  # type: ignore[arg-type]
