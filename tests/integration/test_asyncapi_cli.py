"""``datadivr schema asyncapi`` as a user runs it."""

from __future__ import annotations

import json
import os
from importlib import resources
from pathlib import Path

from datadivr.demo import PROTOCOL
from datadivr_codegen.generator import generate
from tests.commands import CLI_ENV, run_datadivr

CASES = Path(__file__).parents[1] / "codegen" / "cases"


def packaged() -> str:
    return resources.files("datadivr.demo").joinpath("asyncapi.json").read_text("utf-8")


def test_prints_the_packaged_document() -> None:
    result = run_datadivr("schema", "asyncapi")
    assert result.returncode == 0, result.stderr
    assert result.stdout == packaged()
    document = json.loads(result.stdout)
    assert document["asyncapi"] == "3.0.0"
    assert document["info"]["version"] == PROTOCOL.schema_hash
    assert document == PROTOCOL.asyncapi


def test_out_writes_the_file(tmp_path: Path) -> None:
    for option in ("--out", "-o"):
        out = tmp_path / f"asyncapi{option}.json"
        result = run_datadivr("schema", "asyncapi", option, str(out))
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
        assert result.stderr.strip() == f"wrote {out}"
        assert out.read_text(encoding="utf-8") == packaged()


def test_other_protocol_package(tmp_path: Path) -> None:
    generate(CASES / "reply" / "schema", tmp_path / "reply_protocol")
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**CLI_ENV, "PYTHONPATH": os.pathsep.join(path)}

    result = run_datadivr("schema", "asyncapi", "--protocol", "reply_protocol", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (tmp_path / "reply_protocol" / "asyncapi.json").read_text("utf-8")
    assert "receive_add" in json.loads(result.stdout)["operations"]

    # A package generated before asyncapi.json existed.
    (tmp_path / "reply_protocol" / "asyncapi.json").unlink()
    missing = run_datadivr("schema", "asyncapi", "--protocol", "reply_protocol", env=env)
    assert missing.returncode == 2
    assert "has no asyncapi.json" in missing.stderr
    assert missing.stdout == ""


def test_unknown_protocol_package() -> None:
    result = run_datadivr("schema", "asyncapi", "--protocol", "no_such_protocol_package")
    assert result.returncode == 2
    assert "cannot import protocol" in result.stderr
