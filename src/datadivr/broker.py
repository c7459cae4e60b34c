"""Scaling out: the backplanes that connect the servers of a cluster.

``create_app(broker="redis://host:6379")`` (or ``datadivr serve --broker``, or the
``DATADIVR_BROKER`` variable) is all most applications need; build a backplane yourself to set
its options::

    from datadivr import create_app
    from datadivr.broker import RedisBackplane

    app = create_app(broker=RedisBackplane("redis://10.0.0.5:6379/0", presence_ttl=5))

:class:`RedisBackplane` needs redis-py (``pip install 'datadivr[redis]'``).
"""

from datadivr._backplane import Backplane, ClusterNode, MemoryBackplane
from datadivr._redis import DEFAULT_PRESENCE_TTL, RedisBackplane

__all__ = ["DEFAULT_PRESENCE_TTL", "Backplane", "ClusterNode", "MemoryBackplane", "RedisBackplane"]
