"""``BackgroundTasks``: what datadivr 0.3 imports from ``datadivr.core.tasks``.

The wheel uses it in three ways, and this is all it provides:

* ``@BackgroundTasks.task()`` / ``@BackgroundTasks.task(name=...)`` on a coroutine function
  (``handle_connection``, ``send_message``), and ``BackgroundTasks.task(name=...)(func)(...)``
  awaited in the WebSocket endpoint: calling the decorated function runs it as a named asyncio
  task and returns its result, so the caller still waits for it.
* ``await BackgroundTasks.start_all()`` and ``await BackgroundTasks.stop_all()`` in the app's
  lifespan: nothing is scheduled ahead of time, so starting does nothing; stopping cancels the
  tasks still running and waits for them.

It costs a task per call of a decorated function: per connection on the server, never per
message (the server's message path calls nothing decorated).
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine
from typing import Any, ClassVar, TypeVar

__all__ = ["BackgroundTasks"]

T = TypeVar("T")


class BackgroundTasks:
    """Named asyncio tasks, tracked so that the server can stop them at shutdown."""

    _running: ClassVar[set[asyncio.Task[Any]]] = set()

    @classmethod
    def task(
        cls, name: str | None = None
    ) -> Callable[[Callable[..., Coroutine[Any, Any, T]]], Callable[..., Coroutine[Any, Any, T]]]:
        """Decorate a coroutine function so that each call runs as a tracked task.

        Args:
            name: The task's name; the function's qualified name when omitted.

        Returns:
            The decorator.
        """

        def decorate(
            func: Callable[..., Coroutine[Any, Any, T]],
        ) -> Callable[..., Coroutine[Any, Any, T]]:
            task_name = name or func.__qualname__

            @functools.wraps(func)
            async def run(*args: Any, **kwargs: Any) -> T:
                task = asyncio.create_task(func(*args, **kwargs), name=task_name)
                cls._running.add(task)
                task.add_done_callback(cls._running.discard)
                return await task

            return run

        return decorate

    @classmethod
    async def start_all(cls) -> None:
        """The app's startup: 0.3 schedules nothing ahead of time, so there is nothing to do."""

    @classmethod
    async def stop_all(cls) -> None:
        """Cancel every task still running and wait for them (the app's shutdown)."""
        running = list(cls._running)
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
