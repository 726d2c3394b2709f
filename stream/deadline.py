"""`call_with_deadline`: give up on a blocking client call that may never return."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def call_with_deadline(call: Callable[[], T], timeout_s: float, what: str) -> T:
    """Run a blocking call on a helper thread and give up on it after `timeout_s`.

    A call that times out keeps its (daemon) thread: the caller must stop using the
    client it was made on, so the stuck call can never complete anything later.

    Raises:
        TimeoutError: naming `what`, when the call did not return in time.
    """
    outcome: dict[str, object] = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # handed to the caller below
            outcome["error"] = exc
        finally:
            done.set()

    threading.Thread(target=run, name=f"deadline-{what}", daemon=True).start()
    if not done.wait(timeout_s):
        raise TimeoutError(f"{what} did not return within {timeout_s:.0f} s")
    if "error" in outcome:
        raise outcome["error"]  # type: ignore[misc]
    return outcome["value"]  # type: ignore[return-value]
