"""The official AsyncAPI parser (``@asyncapi/parser``, pinned in ``tests/node``) on a document:
its diagnostics, and what its model of the document says (servers, channels, operations and
their replies, messages and their examples)."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from tests.nodejs import run_node

#: Spectral's ``DiagnosticSeverity``: 0 error, 1 warning, 2 information, 3 hint.
ERROR, WARNING, INFORMATION, HINT = range(4)

_SCRIPT = r"""
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");
const ids = (collection) => collection.all().map((item) => item.id());
(async () => {
  const text = fs.readFileSync(process.argv[1], "utf8");
  const { document, diagnostics } = await new Parser().parse(text);
  const out = {
    diagnostics: diagnostics.map((d) => ({
      severity: d.severity, code: String(d.code), path: d.path.join("/"), message: d.message,
    })),
    model: null,
  };
  if (document) {
    out.model = {
      servers: Object.fromEntries(document.servers().all().map((s) => [s.id(), {
        url: s.url(), host: s.host(), protocol: s.protocol(), pathname: s.pathname() ?? null,
        security: s.security().map((r) => r.all().map((q) => ({
          type: q.scheme().type(), name: q.scheme().name() ?? null, in: q.scheme().in() ?? null,
          scheme: q.scheme().scheme() ?? null,
        }))),
      }])),
      channels: Object.fromEntries(document.channels().all().map((c) => [c.id(), {
        address: c.address(), messages: ids(c.messages()),
      }])),
      operations: Object.fromEntries(document.operations().all().map((o) => [o.id(), {
        action: o.action(), channels: ids(o.channels()), messages: ids(o.messages()),
        reply: o.reply() ? ids(o.reply().messages()) : null,
      }])),
      messages: Object.fromEntries(document.components().messages().all().map((m) => [m.id(), {
        payload_type: m.payload() ? m.payload().type() ?? null : null,
        examples: m.examples().all().map((e) => e.payload()),
      }])),
    };
  }
  process.stdout.write(JSON.stringify(out));
})().catch((e) => { process.stderr.write(String(e && e.stack)); process.exit(1); });
"""


def parse(document: dict[str, Any] | str) -> dict[str, Any]:
    """``{"diagnostics": [...], "model": {...} | None}`` of the parser on ``document``."""
    text = document if isinstance(document, str) else json.dumps(document)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "asyncapi.json"
        path.write_text(text, encoding="utf-8")
        result = run_node(_SCRIPT, str(path))
    assert result.returncode == 0, result.stderr
    out: dict[str, Any] = json.loads(result.stdout)
    return out


def above_info(parsed: dict[str, Any]) -> list[dict[str, Any]]:
    """The diagnostics of ``parsed`` above "information": errors and warnings."""
    return [d for d in parsed["diagnostics"] if d["severity"] < INFORMATION]
