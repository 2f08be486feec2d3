"""The narrow interface every store driver implements.

A driver stores a stream of chunks and returns where it put them; it opens a location
for reading (optionally a byte range) and deletes it. Hashing, size limits and image
status live above it, so a new back end only deals with bytes.
"""
from __future__ import annotations

import abc
import dataclasses
from collections.abc import Iterable, Iterator
from typing import IO

from oslo_config import cfg


@dataclasses.dataclass
class Stored:
    """What a driver reports after writing an image."""
    url: str
    size: int
    metadata: dict = dataclasses.field(default_factory=dict)

    @property
    def location(self) -> dict:
        return {'url': self.url, 'metadata': self.metadata}


@dataclasses.dataclass
class Held:
    """One piece of data a store holds (``Store.held``): the name it is stored under
    (an image id, for data Glint wrote), its location URL and size if known;
    ``partial``: an unfinished write the store keeps apart (an S3 multipart upload)."""
    name: str
    url: str
    size: int | None = None
    partial: bool = False


@dataclasses.dataclass
class Reader:
    """Image data being read: a file (the server may sendfile it) or an iterator."""
    data: IO[bytes] | Iterator[bytes]
    length: int

    def close(self) -> None:
        close = getattr(self.data, 'close', None)
        if close:
            close()


class Store(abc.ABC):
    """A back end. ``schemes`` are the location URL schemes it serves."""
    schemes: tuple[str, ...] = ()
    read_only = False
    opts: list[cfg.Opt] = []

    def __init__(self, conf: cfg.ConfigOpts, group: str):
        self.conf = conf
        self.group = group
        self.options = conf[group]

    def configure(self) -> None:  # noqa: B027 (optional hook)
        """Check the configuration and prepare the back end (called at start)."""

    @abc.abstractmethod
    def add(self, image_id: str, chunks: Iterable[bytes | memoryview],
            size: int | None = None) -> Stored:
        """Write all chunks; on any error remove what was written and re-raise.

        ``size`` is the size the client declared, if it did (a driver may reserve space
        with it); the chunks decide what is stored. Uploads pass memoryviews of reused
        buffers: a chunk is valid only until the next one is asked for, so a driver that
        keeps data must copy it. add() runs in a thread of its own beside the hashing
        (glint.common.hashing)."""

    @abc.abstractmethod
    def open(self, url: str, offset: int = 0, length: int | None = None) -> Reader:
        """Read ``length`` bytes (all when None) from ``offset``."""

    def details(self) -> dict:
        """What /v2/info/stores/detail shows of this backend's settings."""
        return {}

    def owns(self, url: str) -> bool:
        """Whether a location of this store's scheme is this backend's (for locations
        written before multi-store named their backend)."""
        return True

    def in_use(self, url: str) -> bool:
        """Whether something outside Glint depends on the data (RBD clones), so that
        deleting the image must be refused before anything changes."""
        return False

    @abc.abstractmethod
    def delete(self, url: str) -> None:
        """Remove the data; a location that is already gone is not an error."""

    # -- data no image may own -------------------------------------------------
    # Drivers name new data after the image id, so what an unfinished upload left is
    # found without a location. Read-only stores keep the defaults.
    def discard(self, image_id: str) -> None:  # noqa: B027 (nothing to discard)
        """Remove whatever an upload of ``image_id`` left (a partial write); nothing
        there is not an error."""

    def held(self) -> Iterator[Held]:
        """Everything this backend holds where Glint writes (glance-manage image
        orphans)."""
        raise NotImplementedError('%s cannot list what it holds.' % type(self).__name__)

    def remove(self, held: Held) -> None:
        """Remove one entry of ``held``."""
        self.delete(held.url)

    def key(self, url: str):
        """What identifies the data a location names, alike for a ``held`` entry's
        URL and an image location's spelling of it."""
        return url


def pieces(chunks: Iterable[bytes | memoryview], size: int) -> Iterator[bytes]:
    """The stream re-cut into ``size``-byte pieces (the last may be shorter), for
    back ends that write in large units. Each piece is a copy: a chunk is valid only
    until the next is asked for, and client libraries keep or want bytes."""
    piece, filled = bytearray(size), 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            n = min(size - filled, len(view))
            piece[filled:filled + n] = view[:n]
            filled, view = filled + n, view[n:]
            if filled == size:
                yield bytes(piece)
                filled = 0
    if filled:
        yield bytes(piece[:filled])
