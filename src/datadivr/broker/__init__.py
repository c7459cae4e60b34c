"""Scaling out: the backplanes that connect the servers of a cluster.

``create_app(broker="redis://host:6379")`` (or ``datadivr serve --broker``, or the
``DATADIVR_BROKER`` variable) is all most applications need; build a backplane yourself to set
its options::

    from datadivr import create_app
    from datadivr.broker import RedisBackplane

    app = create_app(broker=RedisBackplane("redis://10.0.0.5:6379/0", presence_ttl=5))

:class:`RedisBackplane` needs redis-py (``pip install 'datadivr[redis]'``). It is imported
when first named, so this module, and :class:`MemoryBackplane`, work without redis-py.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from datadivr.broker._backplane import Backplane, ClusterNode, MemoryBackplane, safe_url

if TYPE_CHECKING:
    from datadivr.broker._redis import DEFAULT_PRESENCE_TTL, RedisBackplane

__all__ = [
    "DEFAULT_PRESENCE_TTL",
    "Backplane",
    "ClusterNode",
    "MemoryBackplane",
    "RedisBackplane",
    "backplane_for",
]

#: The environment variable ``create_app`` and ``datadivr serve`` read the broker URL from.
BROKER_ENV = "DATADIVR_BROKER"

#: The names this module takes from ``datadivr.broker._redis`` when first asked for: importing it
#: imports redis-py.
_REDIS_NAMES = frozenset({"DEFAULT_PRESENCE_TTL", "RedisBackplane"})


def __getattr__(name: str) -> Any:
    if name in _REDIS_NAMES:
        from datadivr.broker import _redis

        return getattr(_redis, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_REDIS_NAMES})


def backplane_for(broker: str | Backplane | None, **options: Any) -> Backplane:
    """The backplane a ``broker`` setting names.

    Args:
        broker: A backplane; a URL (``redis://``, ``rediss://``, ``unix://`` for Redis,
            ``memory://`` for one process); ``None`` for the ``DATADIVR_BROKER`` variable,
            else one process.
        options: Passed to the Redis backplane (``presence_ttl``, ``prefix`` …).

    Raises:
        ValueError: the URL names no broker datadivr knows.
        ImportError: it names Redis, and redis-py is not installed.
    """
    if isinstance(broker, Backplane):
        return broker
    url = broker if broker is not None else os.environ.get(BROKER_ENV) or "memory://"
    scheme = url.partition("://")[0].lower()
    if scheme == "memory":
        return MemoryBackplane()
    if scheme in ("redis", "rediss", "unix"):
        from datadivr.broker._redis import RedisBackplane

        return RedisBackplane(url, **options)
    raise ValueError(
        f"unknown broker {safe_url(url)!r}: use redis://host:port[/db], rediss://…, unix://…, or memory://"
    )
