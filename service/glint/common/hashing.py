"""Stream image data to the store while hashing it.

The request thread only receives: it fills a small ring of reused buffers from the
body and hands each filled buffer to three threads, md5, the multihash and the store
writer. hashlib and os.write release the GIL on large buffers, so the four run in
parallel and an upload costs the slowest of them, not their sum. A buffer is refilled
only after all three are done with it (a semaphore per consumer counts the free ones),
so nothing is copied, memory stays at the ring's size and a slow consumer holds back
the reading instead of piling up data.
"""
from __future__ import annotations

import dataclasses
import hashlib
import queue
import threading
from collections.abc import Callable, Iterator

from glint.common import exception

BUFFER_SIZE = 1024 * 1024   # large enough that every hand-off is cheap
RING = 8                    # buffers per upload: the memory it holds

_DONE = object()
_ABORT = object()


class Aborted(Exception):
    """The upload stopped on the reading side; raised inside the store's add()."""


@dataclasses.dataclass
class Hashed:
    size: int
    checksum: str
    algorithm: str
    os_hash_value: str


class _Consumer(threading.Thread):
    """Takes the filled buffers in order; each one is free again once it asks for the
    next. ``work`` gets them as an iterator; its result or error is kept."""

    def __init__(self, name: str, work: Callable[[Iterator[memoryview]], object]):
        super().__init__(name=name, daemon=True)
        self.queue: queue.SimpleQueue = queue.SimpleQueue()
        self.free = threading.Semaphore(RING)
        self.work = work
        self.result = None
        self.error: BaseException | None = None
        self.ready = threading.Event()      # work asked for its first chunk, or failed
        self._ended = False

    def _chunks(self) -> Iterator[memoryview]:
        get = self.queue.get
        self.ready.set()
        while (item := get()) not in (_DONE, _ABORT):
            yield item
            self.free.release()
        self._ended = True
        if item is _ABORT:
            raise Aborted()

    def run(self) -> None:
        try:
            self.result = self.work(self._chunks())
        except BaseException as e:
            self.error = e
        self.ready.set()
        # a consumer that stopped early keeps freeing what arrives until the end, so
        # the reader never waits on it
        while not self._ended:
            self._ended = self.queue.get() in (_DONE, _ABORT)
            self.free.release()


def _digest(name: str) -> tuple[hashlib._Hash, Callable]:
    h = hashlib.new(name)

    def work(chunks: Iterator[memoryview]) -> None:
        update = h.update
        for chunk in chunks:
            update(chunk)
    return h, work


def store_hashed(source, add: Callable[[Iterator[memoryview]], object], algorithm: str,
                 limit: int, too_large: str):
    """Read ``source`` (``readinto``) to its end into ``add`` (a store's add, run in
    its own thread) while computing md5 and ``algorithm``. More than ``limit`` bytes
    raise RequestEntityTooLarge(too_large). Returns (add's result, Hashed).

    On any error every thread is stopped, ``add`` sees Aborted (so the store removes
    what it wrote) and the first cause is raised: the store's error if it failed
    first, else the reading side's.
    """
    md5, md5_work = _digest('md5')
    multi, multi_work = _digest(algorithm)
    writer = _Consumer('store-write', add)
    consumers = [writer, _Consumer('hash-md5', md5_work),
                 _Consumer('hash-' + algorithm, multi_work)]
    for c in consumers:
        c.start()
    ring = [memoryview(bytearray(BUFFER_SIZE)) for _ in range(RING)]
    size = 0
    end = _DONE
    # the store may refuse before any data (a declared size the disk cannot hold): let
    # it, rather than wait on a client that may send nothing more
    writer.ready.wait()
    try:
        for n in range(1 << 62):
            for c in consumers:
                c.free.acquire()
            if writer.error is not None:
                break
            view = ring[n % RING]
            got = source.readinto(view)
            if not got:
                break
            size += got
            if size > limit:
                raise exception.RequestEntityTooLarge(too_large)
            chunk = view[:got]
            for c in consumers:
                c.queue.put(chunk)
    except BaseException:
        end = _ABORT
        raise
    finally:
        for c in consumers:
            c.queue.put(end)
        for c in consumers:
            c.join()
        if writer.error is not None and not isinstance(writer.error, Aborted):
            raise writer.error
    for c in consumers:
        if c.error is not None:
            raise c.error
    return writer.result, Hashed(size, md5.hexdigest(), algorithm, multi.hexdigest())
