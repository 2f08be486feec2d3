"""The rbd store: each image an RBD image in a Ceph pool, with a protected snapshot
``snap`` that Nova and Cinder clone copy-on-write.

Locations are ``rbd://<fsid>/<pool>/<image>/snap`` as glance_store writes them. Ceph's
own bindings (Debian's python3-rados / python3-rbd) do the I/O; they are not on PyPI, so
the virtualenv must see them (OpenStack deployments link the two modules into it). One
cluster connection per worker process, made on first use (librados must not cross a
fork) and made again after a failure, with operation timeouts so that a cluster that is
down answers 503 instead of holding a request forever.
"""
from __future__ import annotations

import collections
import ctypes
import errno
import threading
import urllib.parse
from collections.abc import Callable, Iterable, Iterator

from oslo_config import cfg
from oslo_log import log as logging

from glint.common import exception
from glint.store import base

LOG = logging.getLogger(__name__)
SNAPSHOT = 'snap'
MiB = 1024 * 1024
# Transfers keep a few MiB under way (the OSD's latency is hidden) in buffers of their
# own, so a worker's memory stays within tens of MiB per transfer (bench/README.md).
IN_FLIGHT = 4          # writes of one upload under way while the next buffer fills
WRITE_SIZE = 4 * MiB   # at most: rbd_store_chunk_size if smaller
READ_AHEAD = 4         # reads of one download under way
READ_SIZE = 2 * MiB
GROW = 1024 * MiB      # an upload of unknown size grows its RBD image by this much
# librbd's options for a process that only streams whole images: no cache (each write
# and read goes straight to the OSDs, and no 32 MiB cache per open image), and writes
# sent from the caller's buffer without a copy (_Writes keeps a buffer untouched until
# its write is done)
CLIENT_OPTIONS = {'rbd_cache': 'false', 'rbd_disable_zero_copy_writes': 'false'}
_malloc_trim = getattr(ctypes.CDLL(None), 'malloc_trim', None)   # glibc's


def _give_back() -> None:
    """glibc keeps what a transfer's threads freed in their malloc arenas (60-80 MB
    after a 1 GiB upload, measured): hand it back to the system."""
    if _malloc_trim is not None:
        _malloc_trim(0)


def _bindings():
    """Ceph's rados and rbd modules, or InvalidConfig saying how to get them."""
    try:
        import rados
        import rbd
    except ImportError as e:
        raise exception.InvalidConfig(
            'glance_store', 'stores', 'the rbd store needs Ceph\'s Python bindings '
            '(Debian: python3-rados, python3-rbd) visible to this Python (%s).' % e)
    return rados, rbd


class RbdStore(base.Store):
    schemes = ('rbd',)
    opts = [
        cfg.StrOpt('rbd_store_pool', default='images', help='Ceph pool of the images.'),
        cfg.StrOpt('rbd_store_user',
                   help='Ceph user (client.<user>); unset: the ceph.conf default.'),
        cfg.StrOpt('rbd_store_ceph_conf', default='/etc/ceph/ceph.conf',
                   help='ceph.conf naming the monitors and the keyring.'),
        cfg.IntOpt('rbd_store_chunk_size', default=8, min=1, max=64,
                   help='RBD object size in MiB (a power of two); also the unit of '
                        'reads and writes.'),
        cfg.IntOpt('rados_connect_timeout', default=0, min=0,
                   help='Seconds to wait for the cluster (connect and each operation) '
                        'before answering 503; 0: 30 s (Glint: librados would wait '
                        'forever).'),
        cfg.BoolOpt('rbd_thin_provisioning', default=False,
                    help='Do not write chunks that are all zeros (the image stays '
                         'sparse).'),
    ]

    def __init__(self, conf: cfg.ConfigOpts, group: str):
        super().__init__(conf, group)
        self.rados, self.rbd = _bindings()
        chunk = self.options.rbd_store_chunk_size
        if chunk & (chunk - 1):
            raise exception.InvalidConfig(group, 'rbd_store_chunk_size',
                                          '%d is not a power of two.' % chunk)
        self.chunk = chunk * MiB
        self.pool = self.options.rbd_store_pool
        self.timeout = self.options.rados_connect_timeout or 30
        self._cluster = None
        self._lock = threading.Lock()

    # -- the cluster ---------------------------------------------------------------
    def _connect(self):
        with self._lock:
            if self._cluster is None:
                options = {name: str(self.timeout) for name in (
                    'rados_osd_op_timeout', 'rados_mon_op_timeout', 'client_mount_timeout')}
                cluster = self.rados.Rados(conffile=self.options.rbd_store_ceph_conf,
                                           rados_id=self.options.rbd_store_user,
                                           conf=dict(options, **CLIENT_OPTIONS))
                try:
                    cluster.connect(timeout=self.timeout)
                except self.rados.Error as e:
                    cluster.shutdown()
                    raise exception.StoreError('Ceph cluster unreachable: %s' % e)
                self._cluster = cluster
            return self._cluster

    def _ioctx(self, pool: str):
        try:
            return self._connect().open_ioctx(pool)
        except self.rados.ObjectNotFound:
            raise exception.StoreError('Ceph pool "%s" does not exist.' % pool)
        except self.rados.Error as e:
            self._reset()
            raise exception.StoreError('Ceph cluster failed: %s' % e)

    def _reset(self) -> None:
        """Drop a connection that failed: the next call connects again."""
        with self._lock:
            cluster, self._cluster = self._cluster, None
        if cluster is not None:
            cluster.shutdown()

    def _failed(self, e: Exception) -> exception.GlintError:
        """A Ceph error as the API's: full cluster 413, missing image 404, else 503."""
        if isinstance(e, exception.GlintError):
            return e
        if isinstance(e, (self.rados.NoSpace, self.rbd.NoSpace, self.rbd.DiskQuotaExceeded)):
            return exception.StorageFull()
        if isinstance(e, (self.rbd.ImageNotFound, self.rados.ObjectNotFound)):
            return exception.NotFound('Image data not found in Ceph.')
        if isinstance(e, (self.rados.TimedOut, self.rados.ConnectionShutdown)):
            self._reset()
        return exception.StoreError('Ceph failed: %s' % e)

    def _location(self, name: str) -> str:
        fsid = self._connect().get_fsid()
        return 'rbd://%s/%s/%s/%s' % tuple(urllib.parse.quote(part, safe='')
                                           for part in (fsid, self.pool, name, SNAPSHOT))

    @staticmethod
    def _parse(url: str) -> tuple[str, str, str | None]:
        """(pool, image, snapshot) of rbd://fsid/pool/image/snap or rbd://image."""
        parts = [urllib.parse.unquote(p) for p in url[len('rbd://'):].split('/')]
        if len(parts) == 4 and all(parts):
            return parts[1], parts[2], parts[3]
        if len(parts) == 1 and parts[0]:
            return '', parts[0], None
        raise exception.BadRequest('Invalid rbd location %s' % url)

    # -- writing ---------------------------------------------------------------------
    def add(self, image_id: str, chunks: Iterable[bytes | memoryview],
            size: int | None = None) -> base.Stored:
        ioctx = self._ioctx(self.pool)
        try:
            try:
                self._create(ioctx, image_id, size or 0)
            except self.rbd.ImageExists:
                raise exception.Conflict('Image data for %s already exists.' % image_id)
            try:
                written = self._write(ioctx, image_id, chunks)
            except BaseException:        # the store's failure, or the upload's (Aborted)
                self._discard(ioctx, image_id)
                raise
            return base.Stored(url=self._location(image_id), size=written)
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            ioctx.close()
            _give_back()

    def _discard(self, ioctx, name: str) -> None:
        """Remove a partly written image; if that fails too, say what is left."""
        try:
            self._remove(ioctx, name)
        except (self.rados.Error, self.rbd.Error) as e:
            LOG.warning('RBD image %s/%s of a failed upload was not removed: %s',
                        self.pool, name, e)

    def _create(self, ioctx, name: str, size: int) -> None:
        features = self._connect().conf_get('rbd_default_features')
        self.rbd.RBD().create(ioctx, name, size, order=self.chunk.bit_length() - 1,
                              old_format=False,
                              features=int(features) if features else
                              self.rbd.RBD_FEATURE_LAYERING)

    def _write(self, ioctx, name: str, chunks: Iterable) -> int:
        """Write the stream in asynchronous writes from reused buffers (_Writes), then
        fit the image to what was written and take the protected snapshot."""
        thin = self.options.rbd_thin_provisioning
        with self.rbd.Image(ioctx, name) as image, \
                _Writes(image, min(self.chunk, WRITE_SIZE), self._error) as writes:
            capacity, offset = image.size(), 0
            for piece in _cut(chunks, writes.buffer):
                if offset + len(piece) > capacity:
                    capacity = offset + len(piece) + GROW
                    image.resize(capacity)
                if thin and piece.count(0) == len(piece):
                    writes.skip(piece)
                else:
                    writes.write(piece, offset)
                offset += len(piece)
            writes.finish()
            if capacity != offset:
                image.resize(offset)
            image.create_snap(SNAPSHOT)
            image.protect_snap(SNAPSHOT)
        return offset

    def _error(self, ret: int, what: str) -> Exception:
        """The rbd exception of an asynchronous operation's negative return value."""
        cls = {errno.ENOSPC: self.rbd.NoSpace, errno.EDQUOT: self.rbd.DiskQuotaExceeded,
               errno.ENOENT: self.rbd.ImageNotFound}.get(-ret, self.rbd.IOError)
        return cls('%s failed' % what, errno=-ret)

    def details(self) -> dict:
        try:
            fsid = self._connect().get_fsid()
        except exception.StoreError:
            fsid = None              # the cluster is down: everything else still holds
        return {'chunk_size': self.chunk, 'pool': self.pool, 'fsid': fsid,
                'thin_provisioning': self.options.rbd_thin_provisioning}

    # -- reading and deleting --------------------------------------------------------
    def open(self, url: str, offset: int = 0, length: int | None = None) -> base.Reader:
        pool, name, snap = self._parse(url)
        ioctx = self._ioctx(pool or self.pool)
        try:
            image = self.rbd.Image(ioctx, name, snapshot=snap, read_only=True)
        except Exception as e:
            ioctx.close()
            raise self._failed(e) from e
        size = image.size()
        length = size - offset if length is None else min(length, size - offset)
        return base.Reader(self._read(ioctx, image, offset, length), length)

    def _read(self, ioctx, image, offset: int, length: int) -> Iterator[bytes]:
        """Chunks of the image, READ_AHEAD asynchronous reads under way while the caller
        sends the one before."""
        end, size = offset + length, min(self.chunk, READ_SIZE)
        reads: collections.deque = collections.deque()
        try:
            while reads or offset < end:
                while offset < end and len(reads) < READ_AHEAD:
                    reads.append(_Read(image, offset, min(size, end - offset)))
                    offset += reads[-1].length
                yield reads.popleft().result(self._error)
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            for read in reads:           # librbd writes into them until they are done
                read.completion.wait_for_complete_and_cb()
            image.close()
            ioctx.close()
            _give_back()

    def in_use(self, url: str) -> bool:
        """Whether clones depend on the image's snapshot (then it cannot be deleted)."""
        pool, name, snap = self._parse(url)
        if not snap:
            return False
        ioctx = self._ioctx(pool or self.pool)
        try:
            with self.rbd.Image(ioctx, name, snapshot=snap, read_only=True) as image:
                return bool(image.list_children())
        except self.rbd.ImageNotFound:
            return False
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            ioctx.close()

    def delete(self, url: str) -> None:
        pool, name, _ = self._parse(url)
        ioctx = self._ioctx(pool or self.pool)
        try:
            self._remove(ioctx, name)
        except self.rbd.ImageBusy:
            raise exception.Conflict('Image data is in use (it has clones).')
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            ioctx.close()

    def discard(self, image_id: str) -> None:
        ioctx = self._ioctx(self.pool)
        try:
            self._remove(ioctx, image_id)
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            ioctx.close()

    def held(self) -> Iterator[base.Held]:
        ioctx = self._ioctx(self.pool)
        try:
            names = self.rbd.RBD().list(ioctx)
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            ioctx.close()
        for name in names:
            yield base.Held(name, self._location(name))

    def key(self, url: str) -> tuple[str, str]:
        pool, name, _ = self._parse(url)
        return pool or self.pool, name

    def _remove(self, ioctx, name: str) -> None:
        """Unprotect and remove the snapshots, then the image; gone already is fine."""
        try:
            with self.rbd.Image(ioctx, name) as image:
                for snap in list(image.list_snaps()):
                    if image.is_protected_snap(snap['name']):
                        image.unprotect_snap(snap['name'])
                    image.remove_snap(snap['name'])
            self.rbd.RBD().remove(ioctx, name)
        except self.rbd.ImageNotFound:
            pass


class _Writes:
    """The asynchronous writes of one upload, IN_FLIGHT under way while the next buffer
    fills. librbd sends a buffer without copying it (CLIENT_OPTIONS), so a buffer is
    handed out again only once its write is done: one upload holds IN_FLIGHT + 1
    buffers, allocated once."""

    def __init__(self, image, size: int, error: Callable[[int, str], Exception]):
        self.image, self.size, self.error = image, size, error
        self.made = 0
        self.free: list[bytearray] = []
        self.under_way: collections.deque = collections.deque()   # (completion, buffer)

    def buffer(self) -> bytearray:
        if not self.free and self.made <= IN_FLIGHT:
            self.made += 1
            return bytearray(self.size)
        if not self.free:
            self._reap()
        return self.free.pop()

    def write(self, piece: bytearray, offset: int) -> None:
        self.under_way.append((self.image.aio_write(piece, offset, _ignore), piece))

    def skip(self, piece: bytearray) -> None:
        """A piece not written (all zeros on a thin image): its buffer is free."""
        if len(piece) == self.size:
            self.free.append(piece)

    def _reap(self) -> None:
        completion, piece = self.under_way.popleft()
        completion.wait_for_complete_and_cb()
        ret = completion.get_return_value()
        if ret < 0:
            raise self.error(ret, 'RBD write')
        self.skip(piece)

    def finish(self) -> None:
        while self.under_way:
            self._reap()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        for completion, _ in self.under_way:   # a failure: let librbd let go of the buffers
            completion.wait_for_complete_and_cb()
        self.under_way.clear()


class _Read:
    """One asynchronous read; result() waits for its data."""

    def __init__(self, image, offset: int, length: int):
        self.length = length
        # the callback keeps the data in a list of its own, not in self: a reference
        # cycle (read -> completion -> callback -> read) would keep every buffer read
        # until Python's cycle collector ran (1.3 GB of RSS during a 1 GiB download)
        self.data: list[bytes] = []
        self.completion = image.aio_read(offset, length,
                                         lambda _completion, data, box=self.data:
                                         box.append(data))

    def result(self, error: Callable[[int, str], Exception]) -> bytes:
        self.completion.wait_for_complete_and_cb()
        ret = self.completion.get_return_value()
        if ret < 0:
            raise error(ret, 'RBD read')
        if ret != self.length:
            raise error(-errno.EIO, 'RBD read short (%d of %d bytes)' % (ret, self.length))
        return self.data.pop()


def _ignore(_completion) -> None:
    """An asynchronous write's callback: the driver waits for the completion itself."""


def _cut(chunks: Iterable[bytes | memoryview], take: Callable[[], bytearray]
         ) -> Iterator[bytearray]:
    """The stream copied into buffers from take(), each yielded once full; the rest at
    the end as a copy of its length."""
    buf, filled = None, 0
    for chunk in chunks:
        view = memoryview(chunk)
        while view:
            if buf is None:
                buf, filled = take(), 0
            n = min(len(buf) - filled, len(view))
            buf[filled:filled + n] = view[:n]
            filled, view = filled + n, view[n:]
            if filled == len(buf):
                yield buf
                buf = None
    if buf is not None and filled:
        yield buf[:filled]
