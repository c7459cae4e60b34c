"""Generated code imports only ``datadivr.runtime``, and refuses a runtime it was not made for.

The generated sources are read with :mod:`ast`: the project's own package
(``src/datadivr/protocol/``) and every case's package. A package whose recorded runtime API
version the runtime does not support fails at import with a ``RuntimeVersionError`` that names
both versions and the command to regenerate; a package with a supported version imports.
"""

from __future__ import annotations

import ast
import importlib
import json
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import datadivr
import datadivr.demo
import datadivr.runtime
from datadivr.compat import fingerprint
from datadivr.exceptions import DatadivrError, RuntimeVersionError
from datadivr_codegen import runtime_api
from datadivr_codegen.generator import generate

from .conftest import PROJECT_ROOT, Generated, case_schema, package_name

PROTOCOL_DIR = PROJECT_ROOT / "src" / "datadivr" / "demo"
CODEGEN_DIR = PROJECT_ROOT / "codegen" / "datadivr_codegen"
VERSION_LINE = f"__runtime_api_version__ = {datadivr.runtime.RUNTIME_API_VERSION}\n"


def _datadivr_imports(path: Path) -> list[tuple[str, list[str], int]]:
    """Every import of ``datadivr`` or a module under it: (module, names, line)."""
    found: list[tuple[str, list[str], int]] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.partition(".")[0] == "datadivr":
                    found.append((alias.name, [], node.lineno))
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").partition(".")[0] == "datadivr"
        ):
            found.append((node.module or "", [a.name for a in node.names], node.lineno))
    return found


def _generated_sources(packages: dict[str, Generated]) -> list[Path]:
    folders = [PROTOCOL_DIR, *(gen.path for gen in packages.values())]
    return sorted(path for folder in folders for path in folder.glob("*.py"))


def test_generated_code_imports_only_the_runtime(shared_packages: dict[str, Generated]) -> None:
    sources = _generated_sources(shared_packages)
    assert len(sources) == 5 * (1 + len(shared_packages))
    imports = [
        (f"{path}:{line}", module)
        for path in sources
        for module, _, line in _datadivr_imports(path)
    ]
    private = [f"{where}: {module}" for where, module in imports if module.startswith("datadivr._")]
    assert private == []
    # Not even the public modules besides it: the runtime is the whole contract.
    others = [f"{where}: {module}" for where, module in imports if module != runtime_api.RUNTIME]
    assert others == []


def test_generated_code_imports_only_the_runtimes_public_names(
    shared_packages: dict[str, Generated],
) -> None:
    used: set[str] = set()
    for path in _generated_sources(shared_packages):
        for _, names, _ in _datadivr_imports(path):
            used.update(names)
    assert sorted(used - set(datadivr.runtime.__all__)) == []


def test_the_check_finds_a_private_import(tmp_path: Path) -> None:
    """Guards the ``ast`` walk the tests above rely on."""
    source = tmp_path / "m.py"
    source.write_text(
        "import datadivr.client._client\nfrom datadivr.core._message import Payload\n"
        "from datadivr.runtime import Payload as P\nfrom .models import X\n",
        encoding="utf-8",
    )
    assert _datadivr_imports(source) == [
        ("datadivr.client._client", [], 1),
        ("datadivr.core._message", ["Payload"], 2),
        ("datadivr.runtime", ["Payload"], 3),
    ]


def test_the_generator_names_no_private_module() -> None:
    """Every runtime path the generator writes derives from ``runtime_api.RUNTIME``."""
    files = sorted([*CODEGEN_DIR.glob("*.py"), *CODEGEN_DIR.glob("templates/*.jinja")])
    assert files
    naming = [p.name for p in files if "datadivr._" in p.read_text(encoding="utf-8")]
    assert naming == []
    spelled = [
        p.name
        for p in files
        if p.name != "runtime_api.py" and '"datadivr.runtime' in p.read_text(encoding="utf-8")
    ]
    assert spelled == []


def test_generator_and_runtime_agree_on_the_version() -> None:
    assert datadivr.runtime.__name__ == runtime_api.RUNTIME
    assert runtime_api.RUNTIME_API_VERSION == datadivr.runtime.RUNTIME_API_VERSION
    assert runtime_api.RUNTIME_API_VERSION in datadivr.runtime.SUPPORTED_API_VERSIONS


def test_packages_record_the_version(shared_packages: dict[str, Generated]) -> None:
    assert datadivr.demo.__runtime_api_version__ == datadivr.runtime.RUNTIME_API_VERSION
    for gen in shared_packages.values():
        assert gen.module.__runtime_api_version__ == datadivr.runtime.RUNTIME_API_VERSION
        assert "__runtime_api_version__" not in gen.module.__all__


# -- the check at import ---------------------------------------------------------------------


@dataclass(frozen=True)
class Unimported:
    """A generated package the test imports itself."""

    name: str
    path: Path


@pytest.fixture
def unimported(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Unimported]:
    """The ``minimal`` case generated into the working directory, not imported yet."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    name = package_name("minimal")
    generate(case_schema("minimal"), tmp_path / name)
    importlib.invalidate_caches()
    yield Unimported(name, tmp_path / name)
    for key in [k for k in sys.modules if k.partition(".")[0] == name]:
        del sys.modules[key]


def _record(gen: Unimported, version: str) -> None:
    init = gen.path / "__init__.py"
    text = init.read_text(encoding="utf-8")
    assert text.count(VERSION_LINE) == 1
    init.write_text(text.replace(VERSION_LINE, f"__runtime_api_version__ = {version}\n"))


def _refused(gen: Unimported) -> RuntimeVersionError:
    with pytest.raises(RuntimeVersionError) as info:
        importlib.import_module(gen.name)
    # Refused at once: none of its modules (which import the runtime's names) was imported.
    assert [k for k in sys.modules if k.partition(".")[0] == gen.name] == []
    return info.value


def test_a_supported_version_imports(unimported: Unimported) -> None:
    package = importlib.import_module(unimported.name)
    assert package.__runtime_api_version__ == datadivr.runtime.RUNTIME_API_VERSION
    assert package.create_message("hello", {"name": "x"}).event_name == "hello"


def test_a_package_newer_than_the_runtime_is_refused(unimported: Unimported) -> None:
    newer = datadivr.runtime.RUNTIME_API_VERSION + 1
    _record(unimported, str(newer))
    error = _refused(unimported)
    assert isinstance(error, ImportError)
    assert isinstance(error, DatadivrError)
    assert error.name == error.package == unimported.name
    assert error.generated_version == newer
    assert error.runtime_version == datadivr.runtime.RUNTIME_API_VERSION
    assert error.supported == datadivr.runtime.SUPPORTED_API_VERSIONS
    text = str(error)
    assert f"{unimported.name} was generated for datadivr runtime API version {newer}" in text
    assert (
        f"the installed datadivr has runtime API version {datadivr.runtime.RUNTIME_API_VERSION}"
        in text
    )
    assert "upgrade datadivr" in text
    assert f"`datadivr generate --schema SCHEMA_DIR --out {unimported.name}`" in text
    assert error.command in text


def test_a_package_older_than_the_runtime_supports_is_refused(
    unimported: Unimported, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A future runtime that dropped version 1: the package must be regenerated."""
    current = datadivr.runtime.RUNTIME_API_VERSION
    monkeypatch.setattr(datadivr.runtime, "RUNTIME_API_VERSION", current + 1)
    monkeypatch.setattr(datadivr.runtime, "SUPPORTED_API_VERSIONS", range(current + 1, current + 2))
    error = _refused(unimported)
    assert error.generated_version == current
    text = str(error)
    assert f"generated for datadivr runtime API version {current}," in text
    assert f"has runtime API version {current + 1}" in text
    assert f"imports packages generated for version {current + 1} only" in text
    assert "upgrade" not in text
    assert "regenerate the package with the installed datadivr" in text


def test_a_runtime_that_supports_older_versions_imports_them(
    unimported: Unimported, monkeypatch: pytest.MonkeyPatch
) -> None:
    current = datadivr.runtime.RUNTIME_API_VERSION
    monkeypatch.setattr(datadivr.runtime, "RUNTIME_API_VERSION", current + 1)
    monkeypatch.setattr(datadivr.runtime, "SUPPORTED_API_VERSIONS", range(current, current + 2))
    package = importlib.import_module(unimported.name)
    assert package.__runtime_api_version__ == current


@pytest.mark.parametrize("recorded", ["0", "'1'", "True", "None"])
def test_a_version_that_is_not_a_supported_integer_is_refused(
    unimported: Unimported, recorded: str
) -> None:
    _record(unimported, recorded)
    error = _refused(unimported)
    assert f"runtime API version {recorded}," in str(error)


def test_the_command_names_the_package_folder() -> None:
    with pytest.raises(RuntimeVersionError) as info:
        datadivr.runtime.check_generated(0, "not_imported.protocol")
    assert "--out not_imported/protocol`" in info.value.command
    with pytest.raises(RuntimeVersionError) as info:
        datadivr.runtime.check_generated(0, "datadivr.demo")
    folder = PROTOCOL_DIR.resolve()
    try:
        expected = folder.relative_to(Path.cwd()).as_posix()
    except ValueError:
        expected = folder.as_posix()
    assert f"--out {expected}`" in info.value.command


def test_a_package_generated_before_the_fingerprint_gets_it_from_its_schema(
    unimported: Unimported,
) -> None:
    """Version 2 packages pass no ``fingerprint`` to ``Protocol.build``: the runtime computes
    it from their ``schema.json``, the same as the one recorded now."""
    events = unimported.path / "events.py"
    text = events.read_text(encoding="utf-8")
    recorded = json.loads((unimported.path / "schema.json").read_text(encoding="utf-8"))[
        "x-datadivr"
    ]["fingerprint"]
    line = f'    fingerprint="{recorded}",\n'
    assert text.count(line) == 1
    events.write_text(text.replace(line, ""), encoding="utf-8")
    _record(unimported, "2")
    package = importlib.import_module(unimported.name)
    assert package.__runtime_api_version__ == 2
    assert package.PROTOCOL.recorded_fingerprint is None
    assert package.PROTOCOL.fingerprint == recorded
    assert recorded == fingerprint(package.PROTOCOL.schema)


def test_a_package_records_its_fingerprint(unimported: Unimported) -> None:
    package = importlib.import_module(unimported.name)
    bundle = package.PROTOCOL.schema
    assert package.PROTOCOL.recorded_fingerprint == bundle["x-datadivr"]["fingerprint"]
    assert package.PROTOCOL.fingerprint == fingerprint(bundle)
    assert package.PROTOCOL.fingerprint.startswith("fp1-")
