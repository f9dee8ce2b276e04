"""The Collector's background flush thread and its fork and interpreter-exit hooks.

Each holds only a weak reference, so a Collector nobody uses any more can still be collected.
"""

from __future__ import annotations

import logging
import os
import threading
import weakref
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from duckwatch.collector.sdk import Collector

log = logging.getLogger("duckwatch.collector")


def autoflush(ref: weakref.ref[Collector], wake: threading.Event) -> None:
    while True:
        collector = ref()
        if collector is None or collector._closed:
            return
        interval = collector.flush_interval_s
        del collector
        if wake.wait(interval):
            return
        collector = ref()
        if collector is None:
            return
        if collector._pending:
            collector._try_flush()
        del collector


def close_idle_before_fork(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None and os.getpid() == collector._pid:
        collector._pool.close_idle()


def reinit_after_fork(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None:
        collector._init_process_state()


def close_quietly(ref: weakref.ref[Collector]) -> None:
    collector = ref()
    if collector is not None and os.getpid() == collector._pid:
        try:
            collector.close()
        except Exception as exc:  # at interpreter exit there is nobody left to raise to
            log.error("duckwatch: final flush failed: %s", exc)
