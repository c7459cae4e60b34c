"""Reference validation: check any message against the protocol's JSON Schema with
:mod:`jsonschema` (draft 2020-12), independently of the generated models.

The ``date-time`` and ``uuid`` formats are asserted by the very functions the models use (any
other format is an annotation, as in the models), so the models and this validator accept and
refuse the same messages.

This is what a third-party client (a browser page, a Unity or Unreal client, a service in
another language) is held to: the bundled ``schema.json`` that ships inside the generated
package, so an installed SDK validates without the repository::

    from datadivr.validation import Validator

    report = Validator().validate('{"event_name": "sum_event", "payload": {"numbers": ["1"]}}')
    for violation in report.violations:
        print(violation.path, violation.kind, violation.reason)  # $.payload.numbers[0] type …

Its violations are those the server's ``error`` lists in ``details`` for the same frame: the
same engine (:mod:`datadivr.core._reference`) finds them, in JSON Schema's words, with a
failure about a member of an object at that member (see ``docs/validating.md``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from datadivr.core._protocol import Protocol, decode_frame, envelope_error
from datadivr.core._reference import Reference
from datadivr.exceptions import Violation

__all__ = ["Report", "Validator"]


@dataclass(frozen=True)
class Report:
    """The verdict on one message.

    Attributes:
        event_name: The message's event, when it names a known one.
        violations: Every violation (at most :data:`MAX_DETAILS` of them): JSON path, failing
            keyword (``kind``) and reason.
        truncated: Whether there were more violations than those listed; the message was
            not checked past them, so how many more is not known.
    """

    event_name: str | None
    violations: tuple[Violation, ...]
    truncated: bool = False

    @property
    def valid(self) -> bool:
        """Whether the message is valid."""
        return not self.violations

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (for JSON output); ``truncated`` only when true."""
        data = {
            "valid": self.valid,
            "event_name": self.event_name,
            "violations": [v.as_dict() for v in self.violations],
        }
        return {**data, "truncated": True} if self.truncated else data


class Validator:
    """Validates messages against a protocol's bundled JSON Schema.

    Args:
        protocol: The generated protocol; datadivr's own when omitted.
    """

    def __init__(self, protocol: Protocol | None = None) -> None:
        if protocol is None:
            from datadivr.demo import PROTOCOL

            protocol = PROTOCOL
        self.protocol = protocol
        self._reference = Reference(protocol.schema)

    @property
    def events(self) -> list[str]:
        """The events this validator knows."""
        return self._reference.events

    def validate(self, message: Mapping[str, Any] | str | bytes) -> Report:
        """Validate one message: a decoded object, or a frame's JSON text."""
        data: Any = message
        if isinstance(message, str | bytes):
            try:
                data = decode_frame(message)
            except ValueError as exc:
                return Report(None, (Violation("$", f"not valid JSON: {exc}", "json"),))
        refused = envelope_error(data, self.protocol)
        if refused is not None:
            return Report(None, tuple(refused.details))
        name = data["event_name"]
        violations, truncated = self._reference.check(name, data)
        return Report(name, tuple(violations), truncated=truncated)
