"""The mutation check: does the test suite notice when a rule of the code is broken?

Each :class:`Mutant` below breaks one promise of one subsystem with a small, plausible change
(a guard dropped, an order swapped, a bound moved by one), in a copy of the tree; the tests
that guard that promise must then fail. A mutant they let through is a behaviour no test
holds, and the check fails, naming it.

``make mutants`` runs every mutant; ``python -m tools.mutants --list`` lists them, and
``python -m tools.mutants NAME …`` runs some. It never touches the working tree: the files git
knows of are copied to a temporary folder, and the tests run there against that copy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Seconds one mutant's tests may run; a mutant whose tests hang counts as caught (a test
#: timed out), but a run this long means a test waits where it should fail.
MUTANT_TIMEOUT = 300.0


@dataclass(frozen=True)
class Mutant:
    """One change that breaks a promise, and the tests that must catch it.

    Attributes:
        name: Short, unique: ``subsystem-what``.
        file: The file changed, relative to the repository.
        find: Text that occurs exactly once in ``file``.
        replace: What it becomes.
        tests: pytest arguments selecting the tests that guard the promise.
        promise: What the mutant breaks, in a sentence.
    """

    name: str
    file: str
    find: str
    replace: str
    tests: tuple[str, ...]
    promise: str


MUTANTS: tuple[Mutant, ...] = (
    Mutant(
        "registry-fallback-wins",
        "src/datadivr/core/_registry.py",
        """            entry = self._entries.get(key)
            for fallback in self._fallbacks:
                if entry is not None:
                    break
                entry = fallback.lookup(event_name, side)
""",
        """            entry = None
            for fallback in self._fallbacks:
                if entry is not None:
                    break
                entry = fallback.lookup(event_name, side)
            if entry is None:
                entry = self._entries.get(key)
""",
        ("tests/test_registry.py",),
        "A registry's own handler wins over its fallbacks'.",
    ),
    Mutant(
        "client-any-reply-settles",
        "src/datadivr/client/_session.py",
        """                if not waiter.done() and (
                    isinstance(message, expected) or message.event_name == "error"
                ):
""",
        """                if not waiter.done():
""",
        ("tests/test_session.py", "tests/integration/test_server.py", "-k", "side_message"),
        "Only the expected answer or an error settles a request, not any message with its id.",
    ),
    Mutant(
        "core-others-includes-sender",
        "src/datadivr/core/_hub.py",
        "return Broadcast(exclude=sender, origin=sender)",
        "return Broadcast(exclude=None, origin=sender)",
        ("tests/test_core.py",),
        "A message to 'others' does not come back to its sender.",
    ),
    Mutant(
        "core-from-id-as-sent",
        "src/datadivr/core/_hub.py",
        'message.__dict__["from_id"] = client_id',
        'message.__dict__.setdefault("from_id", client_id)',
        ("tests/test_core.py",),
        "from_id is always the sender's real id, whatever the client wrote.",
    ),
    Mutant(
        "limits-rate-off-by-one",
        "src/datadivr/core/_limits.py",
        "        if self._tokens >= 1:\n            self._tokens -= 1",
        "        if self._tokens >= 0:\n            self._tokens -= 1",
        ("tests/test_limits.py",),
        "A connection sends at most burst messages at once, then rate per second.",
    ),
    Mutant(
        "limits-depth-off-by-one",
        "src/datadivr/core/_limits.py",
        "    for _ in range(max_depth):\n",
        "    for _ in range(max_depth + 1):\n",
        ("tests/test_limits.py",),
        "A message nested one level deeper than max_depth is refused.",
    ),
    Mutant(
        "server-slow-reader-kept",
        "src/datadivr/server/_connection.py",
        """            self.evict(self, 1013, "outbound queue full: client too slow")
            return
""",
        """            pass
""",
        ("tests/integration/test_server.py", "-k", "stalled"),
        "A client whose outbound queue is full is disconnected (1013), holding up no one.",
    ),
    Mutant(
        "server-shutdown-drops-queue",
        "src/datadivr/server/_connection.py",
        """        self.closing = True
        self.pending.append(_Close(code, reason))
""",
        """        self.closing = True
        self.discard_queue()
        self.pending.append(_Close(code, reason))
""",
        ("tests/integration/test_shutdown.py",),
        "A graceful shutdown delivers everything the server accepted before it closes.",
    ),
    Mutant(
        "serving-no-handshake-deadline",
        "src/datadivr/server/_uvicorn.py",
        """        self._slot = slot
        self._arm(guard.limits.handshake_timeout)
""",
        """        self._slot = slot
""",
        ("tests/integration/test_handshakes.py", "-k", "silent"),
        "A socket that never sends its request is answered 408 and closed at the deadline.",
    ),
    Mutant(
        "serving-pending-not-counted",
        "src/datadivr/server/_uvicorn.py",
        "slot = guard.admission.open(self._address, self._evict)",
        "slot = Slot(self._address, self._evict)",
        ("tests/integration/test_handshakes.py", "-k", "per_address"),
        "Sockets still in their handshake count against the per-address limit.",
    ),
    Mutant(
        "auth-token-prefix",
        "src/datadivr/server/_auth.py",
        'hmac.compare_digest(presented.encode("utf-8", "surrogateescape"), expected)',
        'expected.startswith(presented.encode("utf-8", "surrogateescape"))',
        ("tests/test_auth.py",),
        "Only the whole token admits a client.",
    ),
    Mutant(
        "logging-query-kept",
        "src/datadivr/_logging.py",
        "    text = _QUERY.sub(_redact_query, text)\n",
        "",
        ("tests/test_auth.py",),
        "No query-string value of a request target reaches the log.",
    ),
    Mutant(
        "validation-exhaustive-on-large-frames",
        "src/datadivr/core/_protocol.py",
        "if len(frame) <= EXHAUSTIVE_ITEMS or self._fail_fast is None:",
        "if True:",
        ("tests/test_validation.py",),
        "Refusing a frame costs what the frame costs, not what its number of failures costs.",
    ),
    Mutant(
        "presence-restart-forgets-peers",
        "src/datadivr/broker/_presence.py",
        "if node not in snapshot and deadline > now and node in self._nodes",
        "if False",
        ("tests/test_presence.py",),
        "After a broker restart, a node keeps a live peer's clients until the peer is back.",
    ),
    Mutant(
        "reconnect-no-cap",
        "src/datadivr/client/_reconnect.py",
        "base = min(base * self.factor, self.max_delay)",
        "base = base * self.factor",
        ("tests/test_reconnect.py",),
        "The client's wait between attempts never exceeds max_delay.",
    ),
    Mutant(
        "codegen-closed-all-of-member",
        "codegen/datadivr_codegen/keywords.py",
        "            if part.closed and missing:",
        "            if False and part.closed and missing:",
        ("tests/codegen/test_keywords.py", "-k", "all_of_closed_member"),
        "An allOf member that refuses the others' properties is not typed as exact: a check "
        "refuses what it refuses.",
    ),
    Mutant(
        "core-welcome-undeclared-fields",
        "src/datadivr/core/_hub.py",
        '    if declared is None or "fingerprint" in declared:',
        "    if True:",
        ("tests/codegen/test_welcome_fields.py",),
        "The welcome holds only the fields its payload declares: a closed welcome without the "
        "fingerprint still gets a valid one.",
    ),
    Mutant(
        "client-incompatible-for-servers",
        "src/datadivr/client/_compatibility.py",
        "    if Side.CLIENTS not in diff.breaks:",
        "    if not diff.breaks:",
        ("tests/test_compatibility.py", "tests/integration/test_incompatible_protocol.py"),
        "Only a server protocol that breaks clients fails the client's connect; one that "
        "breaks servers only connects silently.",
    ),
    Mutant(
        "compat-not-unswapped",
        "src/datadivr/compat/_schemas.py",
        """                stricter=f.looser,
                looser=f.stricter,""",
        """                stricter=f.stricter,
                looser=f.looser,""",
        ("tests/compat/",),
        "Under not, what the inner schema gains, the message loses: the verdicts swap.",
    ),
    Mutant(
        "compat-branch-cover-by-all",
        "src/datadivr/compat/_schemas.py",
        'covered_old = [any(not _flag(cell, "stricter") for cell in row) for row in table]',
        'covered_old = [all(not _flag(cell, "stricter") for cell in row) for row in table]',
        ("tests/compat/",),
        "An old branch one new branch covers whole is still accepted: adding a branch breaks "
        "no sender.",
    ),
    Mutant(
        "compat-relay-not-received",
        "src/datadivr/compat/_diff.py",
        "    Direction.CLIENT_TO_CLIENT.value: frozenset({(_C, _S), (_C, _C)}),",
        "    Direction.CLIENT_TO_CLIENT.value: frozenset({(_C, _S)}),",
        ("tests/compat/",),
        "A client_to_client message made looser breaks the clients it is relayed to.",
    ),
    Mutant(
        "compat-number-excludes-integers",
        "src/datadivr/compat/_schemas.py",
        '        types.add("integer")  # "number": the integers and the numbers that are not',
        "        pass",
        ("tests/compat/",),
        "An integer is a number: widening integer to number breaks no sender.",
    ),
)


def _copy_tree(dest: Path) -> None:
    """The files git knows of (tracked, and untracked but not ignored), as they are now."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in listed:
        if not raw:
            continue
        rel = Path(os.fsdecode(raw))
        source = ROOT / rel
        if not source.is_file():
            continue  # deleted in the working tree
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    # The browser example's installed bundle is not in git; its tests need it.
    modules = ROOT / "examples" / "browser" / "node_modules"
    if modules.is_dir():
        shutil.copytree(modules, dest / "examples" / "browser" / "node_modules", symlinks=True)


def _pytest(tree: Path, args: Sequence[str]) -> tuple[int, str]:
    """Run pytest on ``tree``'s code (its ``src`` and ``codegen`` first on the path, for this
    process and every process a test starts)."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(tree / "src"), str(tree / "codegen"), str(tree), env.get("PYTHONPATH", "")]
    ).rstrip(os.pathsep)
    env.pop("PYTEST_ADDOPTS", None)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *args],
            cwd=tree,
            env=env,
            capture_output=True,
            text=True,
            timeout=MUTANT_TIMEOUT,
        )
    except subprocess.TimeoutExpired:
        return -1, f"no result within {MUTANT_TIMEOUT:.0f} s"
    lines = [line for line in done.stdout.splitlines() if line.strip()]
    return done.returncode, lines[-1] if lines else done.stderr.strip()[-200:]


def _apply(tree: Path, mutant: Mutant) -> str:
    path = tree / mutant.file
    original = path.read_text(encoding="utf-8")
    count = original.count(mutant.find)
    if count != 1:
        raise SystemExit(
            f"mutant {mutant.name}: its text occurs {count} times in {mutant.file}, not once; "
            "update the mutant in tools/mutants.py to follow the code"
        )
    path.write_text(original.replace(mutant.find, mutant.replace), encoding="utf-8")
    return original


def stale(mutants: Sequence[Mutant], tree: Path = ROOT) -> list[str]:
    """The mutants whose text does not occur exactly once in their file, each with a reason."""
    found = []
    for mutant in mutants:
        path = tree / mutant.file
        count = path.read_text(encoding="utf-8").count(mutant.find) if path.is_file() else 0
        if count != 1:
            found.append(f"{mutant.name}: its text occurs {count} times in {mutant.file}")
    return found


def run(mutants: Sequence[Mutant]) -> int:
    """Run ``mutants``; the exit status: 0 when the tests caught every one, else 1."""
    survivors: list[Mutant] = []
    problems = stale(mutants)
    if problems:
        print("update these mutants in tools/mutants.py to follow the code:")
        print("\n".join(f"  {problem}" for problem in problems))
        return 2
    with tempfile.TemporaryDirectory(prefix="datadivr-mutants-") as folder:
        tree = Path(folder)
        _copy_tree(tree)
        # The selected tests must pass on the code as it is, or a failure proves nothing.
        for mutant in mutants:
            status, summary = _pytest(tree, mutant.tests)
            if status != 0:
                print(f"baseline  {mutant.name}: its tests fail without it: {summary}")
                return 2
        for mutant in mutants:
            original = _apply(tree, mutant)
            started = time.monotonic()
            try:
                status, summary = _pytest(tree, mutant.tests)
            finally:
                (tree / mutant.file).write_text(original, encoding="utf-8")
            took = time.monotonic() - started
            if status in (0, 5):
                survivors.append(mutant)
                verdict = "SURVIVED"
            elif status in (2, 3, 4):
                print(f"error     {mutant.name}: pytest could not run ({status}): {summary}")
                return 2
            else:
                verdict = "caught"
            print(f"{verdict:<9} {mutant.name} ({took:.1f} s): {summary}")
    if survivors:
        print(f"\n{len(survivors)} of {len(mutants)} mutants survived:")
        for mutant in survivors:
            print(f"  {mutant.name}: {mutant.promise} ({mutant.file})")
        return 1
    print(f"\nall {len(mutants)} mutants caught")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.mutants", description=__doc__)
    parser.add_argument("names", nargs="*", help="run only these mutants")
    parser.add_argument("--list", action="store_true", help="list the mutants and exit")
    args = parser.parse_args(argv)
    if args.list:
        for mutant in MUTANTS:
            print(f"{mutant.name:<32} {mutant.file:<40} {mutant.promise}")
        return 0
    by_name = {mutant.name: mutant for mutant in MUTANTS}
    unknown = [name for name in args.names if name not in by_name]
    if unknown:
        parser.error(f"no mutant named {', '.join(unknown)}; --list lists them")
    return run([by_name[name] for name in args.names] if args.names else MUTANTS)


if __name__ == "__main__":
    sys.exit(main())
