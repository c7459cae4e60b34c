"""The protocol's TypeScript declarations as a user gets them: ``datadivr schema typescript``
and the server's ``GET /protocol.d.ts``."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from datadivr import create_app
from datadivr.cli import app as cli
from datadivr.demo import PROTOCOL
from datadivr_codegen.generator import generate
from tests.case_protocols import case_package
from tests.commands import CLI_ENV, run_datadivr
from tests.typescript import assert_compiles

CASES = Path(__file__).parents[1] / "codegen" / "cases"


def packaged() -> str:
    return resources.files("datadivr.demo").joinpath("protocol.d.ts").read_text("utf-8")


def test_prints_the_packaged_declarations(tmp_path: Path) -> None:
    result = run_datadivr("schema", "typescript")
    assert result.returncode == 0, result.stderr
    assert result.stdout == packaged() == PROTOCOL.typescript
    assert "export type ServerFrame =" in result.stdout
    (tmp_path / "protocol.d.ts").write_text(result.stdout, encoding="utf-8")
    assert_compiles("protocol.d.ts", cwd=tmp_path)


def test_out_writes_the_file(tmp_path: Path) -> None:
    for option in ("--out", "-o"):
        out = tmp_path / f"protocol{option}.d.ts"
        result = CliRunner().invoke(cli, ["schema", "typescript", option, str(out)])
        assert result.exit_code == 0, result.output
        assert result.output.strip() == f"wrote {out}"
        assert out.read_text(encoding="utf-8") == packaged()


def test_other_protocol_package(tmp_path: Path) -> None:
    generate(CASES / "reply" / "schema", tmp_path / "reply_protocol")
    path = [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = {**CLI_ENV, "PYTHONPATH": os.pathsep.join(path)}

    result = run_datadivr("schema", "typescript", "--protocol", "reply_protocol", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (tmp_path / "reply_protocol" / "protocol.d.ts").read_text("utf-8")
    assert "export interface AddMessage {" in result.stdout

    # A package generated before protocol.d.ts existed.
    (tmp_path / "reply_protocol" / "protocol.d.ts").unlink()
    missing = run_datadivr("schema", "typescript", "--protocol", "reply_protocol", env=env)
    assert missing.returncode == 2
    assert "has no protocol.d.ts" in missing.stderr
    assert missing.stdout == ""


@pytest.fixture
async def http() -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=create_app())
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def test_served_as_text(http: httpx.AsyncClient) -> None:
    async with http:
        response = await http.get("/protocol.d.ts")
        openapi = (await http.get("/openapi.json")).json()
    assert response.status_code == 200
    assert response.text == PROTOCOL.typescript
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-disposition"] == 'inline; filename="protocol.d.ts"'
    operation = openapi["paths"]["/protocol.d.ts"]["get"]
    assert "ClientFrame" in operation["summary"]
    assert list(operation["responses"]["200"]["content"]) == ["text/plain"]


async def test_a_package_without_declarations_is_a_404(tmp_path: Path) -> None:
    with case_package("reply", tmp_path) as package:
        (Path(package.__file__).parent / "protocol.d.ts").unlink()
        transport = httpx.ASGITransport(app=create_app(protocol=package.PROTOCOL))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            response = await http.get("/protocol.d.ts")
    assert response.status_code == 404
    assert "has no protocol.d.ts: regenerate it" in response.json()["detail"]
