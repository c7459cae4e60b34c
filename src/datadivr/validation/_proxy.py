"""``datadivr proxy``: a validating WebSocket proxy between any client and a datadivr server.

Every frame is forwarded unchanged, both ways, and checked against the schema and its
direction on the way. Violations are logged as they happen and counted; with ``enforce``,
invalid frames from a client stop at the proxy, which answers with the ``error`` message the
server would have sent.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, cast
from urllib.parse import urlsplit

import websockets
from websockets.asyncio.client import ClientConnection
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.typing import Origin, Subprotocol

from datadivr._logging import get_logger
from datadivr.core._hub import error_frame, refused_id
from datadivr.core._protocol import (
    SUBPROTOCOL,
    FrameFault,
    Protocol,
    binary_error,
    direction_error,
    frame_error,
    frame_field,
    invalid_text,
)
from datadivr.exceptions import ProtocolError, Violation
from datadivr.validation import Report, Validator

__all__ = ["DOWNSTREAM", "UPSTREAM", "Conformance", "ValidatingProxy"]

#: A frame from the client to the server.
UPSTREAM = "client_to_server"
#: A frame from the server to the client.
DOWNSTREAM = "server_to_client"
_log = get_logger("datadivr.proxy")


@dataclass
class Conformance:
    """What the proxy saw: frames per event and direction, violations per kind."""

    frames: Counter[tuple[str, str]] = field(default_factory=Counter)
    violations: Counter[str] = field(default_factory=Counter)
    blocked: int = 0
    connections: int = 0

    def as_dict(self) -> dict[str, Any]:
        frames: dict[str, dict[str, int]] = {}
        for (event, direction), count in sorted(self.frames.items()):
            frames.setdefault(direction, {})[event] = count
        return {
            "connections": self.connections,
            "frames": frames,
            "violations": dict(sorted(self.violations.items())),
            "blocked": self.blocked,
        }

    def summary(self) -> str:
        """The report for people."""
        lines = [f"datadivr proxy: {self.connections} connections"]
        for direction, events in self.as_dict()["frames"].items():
            for event, count in events.items():
                lines.append(f"  {direction:<17} {event:<24} {count:>8} frames")
        total = sum(self.violations.values())
        lines.append(
            f"  violations: {total}"
            + (
                " ("
                + ", ".join(f"{kind}: {count}" for kind, count in sorted(self.violations.items()))
                + ")"
                if total
                else ""
            )
        )
        if self.blocked:
            lines.append(f"  blocked frames: {self.blocked}")
        return "\n".join(lines)


class ValidatingProxy:
    """Relays WebSocket connections to ``upstream``, checking every frame.

    Args:
        upstream: The server's WebSocket URL.
        protocol: The protocol to check against; datadivr's own when omitted.
        enforce: Stop a client's invalid frames and answer with an ``error``.
    """

    def __init__(
        self, upstream: str, *, protocol: Protocol | None = None, enforce: bool = False
    ) -> None:
        self.validator = Validator(protocol)
        self.protocol = self.validator.protocol
        self.upstream = upstream
        self.enforce = enforce
        self.conformance = Conformance()
        self._server: Server | None = None

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (0 picks a free port); return the bound address."""
        self._server = await serve(
            self._relay,
            host,
            port,
            compression=None,
            max_size=None,
            select_subprotocol=_select_subprotocol,
        )
        address = next(iter(self._server.sockets)).getsockname()
        return str(address[0]), int(address[1])

    async def stop(self) -> None:
        """Stop listening and close every relayed connection."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def check(self, frame: str | bytes, direction: str) -> Report:
        """Check one frame travelling in ``direction``; count and log what is wrong."""
        report = self.validator.validate(frame)
        violations = list(report.violations)
        event = report.event_name
        if event is not None and report.valid:
            spec = self.protocol.events[event]
            # A client's answer to the server's request (a client_reply event, or an error
            # with a reply_to) is its to send; whether the server asked is the server's to
            # check (the proxy keeps no requests).
            allowed = (
                spec.direction.client_may_answer
                or (event == "error" and isinstance(frame_field(frame, "reply_to"), str))
                if direction == UPSTREAM
                else spec.direction.server_may_send
            )
            if not allowed:
                violations.append(
                    Violation("$.event_name", f"{event!r} is {spec.direction.value}", "direction")
                )
        self.conformance.frames[(event or "?", direction)] += 1
        for violation in violations:
            self.conformance.violations[violation.kind or "?"] += 1
            _log.warning(
                "protocol violation",
                direction=direction,
                event_name=event,
                path=violation.path,
                kind=violation.kind,
                reason=violation.reason[:300],
            )
        if report.truncated:
            _log.warning("and more protocol violations", direction=direction, event_name=event)
        return Report(event, tuple(violations), truncated=report.truncated)

    def refusal(self, frame: str | bytes, report: Report) -> ProtocolError:
        """The error the server answers a client's invalid ``frame`` with (``report`` is
        :meth:`check`'s): the very one it builds (:meth:`Protocol.refusal`,
        :func:`direction_error`), so that the proxy's answer is the server's, byte for byte."""
        refused = self.protocol.refusal(frame)
        if refused is not None:
            return refused
        event = report.event_name
        if event is not None and any(v.kind == "direction" for v in report.violations):
            return direction_error(event, self.protocol.events[event].direction)
        # The models take what the schema refuses (they are tested to agree): the schema's
        # verdict, in the server's words.
        return frame_error(
            FrameFault.SCHEMA,
            invalid_text(f"{event!r} message", report.violations, exhaustive=not report.truncated),
            event_name=event,
            details=report.violations,
        )

    async def _relay(self, client: ServerConnection) -> None:
        self.conformance.connections += 1
        # The client's credentials go upstream as they came: the server decides.
        request = client.request
        assert request is not None  # the handshake is done
        query = urlsplit(request.path).query
        url = (
            f"{self.upstream}{'&' if '?' in self.upstream else '?'}{query}"
            if query
            else self.upstream
        )
        offered = [
            token.strip()
            for header in request.headers.get_all("Sec-WebSocket-Protocol")
            for token in header.split(",")
            if token.strip()
        ]
        authorization = request.headers.get("Authorization")
        try:
            upstream = await websockets.connect(
                url,
                compression=None,
                max_size=None,
                origin=cast("Origin | None", request.headers.get("Origin")),
                subprotocols=cast("list[Subprotocol] | None", offered or None),
                additional_headers={"Authorization": authorization} if authorization else None,
            )
        except websockets.InvalidStatus as exc:
            status = exc.response.status_code
            _log.warning("upstream refused the client", upstream=self.upstream, status=status)
            # 1008 for a refusal the client would meet again (403: token, origin); else 1013.
            code = 1008 if 400 <= status < 500 else 1013
            await client.close(code, f"upstream refused the handshake: HTTP {status}")
            return
        except (OSError, websockets.InvalidHandshake, TimeoutError) as exc:
            _log.error("cannot reach upstream", upstream=self.upstream, error=str(exc))
            await client.close(1011, "upstream unavailable")
            return
        async with upstream:
            peer = _Peer()
            tasks = [
                asyncio.create_task(self._pump(client, upstream, UPSTREAM, peer)),
                asyncio.create_task(self._pump(upstream, client, DOWNSTREAM, peer)),
            ]
            done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            for task in done:
                task.result()

    async def _pump(
        self,
        source: ServerConnection | ClientConnection,
        target: ServerConnection | ClientConnection,
        direction: str,
        peer: _Peer,
    ) -> None:
        try:
            async for frame in source:
                report = self.check(frame, direction)
                if report.event_name == "welcome" and direction == DOWNSTREAM:
                    payload = frame_field(frame, "payload")
                    if isinstance(payload, dict) and isinstance(payload.get("client_id"), str):
                        peer.client_id = payload["client_id"]
                if self.enforce and not report.valid and direction == UPSTREAM:
                    self.conformance.blocked += 1
                    _log.info("the proxy refused a message", event_name=report.event_name)
                    if isinstance(frame, bytes):  # (as the server answers it, uncorrelated)
                        answer = error_frame(binary_error(), to=peer.client_id)
                    else:
                        error = self.refusal(frame, report)
                        reply_to = refused_id(frame)
                        answer = error_frame(error, to=peer.client_id, reply_to=reply_to)
                    await source.send(answer)
                    continue
                await target.send(frame)
        except websockets.ConnectionClosed:
            pass
        finally:
            # One side is gone: close the other the same way.
            code = source.close_code or 1000
            reason = source.close_reason or ""
            with contextlib.suppress(Exception):
                await target.close(code if code not in (1005, 1006) else 1000, reason)


def _select_subprotocol(
    connection: ServerConnection, offered: Sequence[Subprotocol]
) -> Subprotocol | None:
    """``datadivr`` when the client offers it, as the server does; none otherwise."""
    return Subprotocol(SUBPROTOCOL) if SUBPROTOCOL in offered else None


@dataclass
class _Peer:
    """What the proxy knows of one relayed client: its id, from the server's ``welcome``."""

    client_id: str = "client"
