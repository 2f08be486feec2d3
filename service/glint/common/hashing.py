"""Hash image data while it streams to the store.

Each digest runs in its own thread: hashlib releases the GIL on large buffers, so md5,
the multihash and the store write proceed in parallel and an upload costs the slowest
of them, not their sum. Chunks are shared (bytes are immutable), never copied.
"""
from __future__ import annotations

import hashlib
import queue
import threading
from collections.abc import Iterable, Iterator

_DONE = None
QUEUE_DEPTH = 4   # chunks in flight per digest: bounds memory to a few chunks


class _Digest(threading.Thread):
    def __init__(self, name: str):
        super().__init__(name='hash-' + name, daemon=True)
        self.hash = hashlib.new(name)
        self.queue: queue.Queue = queue.Queue(QUEUE_DEPTH)

    def run(self) -> None:
        update, get = self.hash.update, self.queue.get
        while (chunk := get()) is not _DONE:
            update(chunk)


class HashingStream:
    """Yields ``chunks`` unchanged while computing md5 and ``algorithm`` on the side.

    Use as a context manager; after the iteration completes, ``checksum``,
    ``os_hash_value`` and ``size`` describe exactly the bytes that were yielded.
    """

    def __init__(self, chunks: Iterable[bytes], algorithm: str):
        self._chunks = chunks
        self.algorithm = algorithm
        self._digests = [_Digest('md5'), _Digest(algorithm)]
        self.size = 0

    def __enter__(self) -> HashingStream:
        for d in self._digests:
            d.start()
        return self

    def __exit__(self, *exc) -> None:
        for d in self._digests:
            d.queue.put(_DONE)
        for d in self._digests:
            d.join()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            for d in self._digests:
                d.queue.put(chunk)
            self.size += len(chunk)
            yield chunk

    @property
    def checksum(self) -> str:
        return self._digests[0].hash.hexdigest()

    @property
    def os_hash_value(self) -> str:
        return self._digests[1].hash.hexdigest()
