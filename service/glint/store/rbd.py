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

import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from concurrent import futures

from oslo_config import cfg
from oslo_log import log as logging

from glint.common import exception
from glint.store import base

LOG = logging.getLogger(__name__)
SNAPSHOT = 'snap'
MiB = 1024 * 1024
IN_FLIGHT = 4          # writes of one upload under way at once
GROW = 1024 * MiB      # an upload of unknown size grows its RBD image by this much


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
                timeouts = {name: str(self.timeout) for name in (
                    'rados_osd_op_timeout', 'rados_mon_op_timeout', 'client_mount_timeout')}
                cluster = self.rados.Rados(conffile=self.options.rbd_store_ceph_conf,
                                           rados_id=self.options.rbd_store_user,
                                           conf=timeouts)
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
        if isinstance(e, (self.rados.NoSpace, self.rbd.NoSpace)):
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
        """Write the stream in chunk-sized pieces, IN_FLIGHT at once; then fit the
        image to what was written and take the protected snapshot."""
        thin = self.options.rbd_thin_provisioning
        with self.rbd.Image(ioctx, name) as image, \
                futures.ThreadPoolExecutor(IN_FLIGHT) as pool:
            capacity, offset, pending = image.size(), 0, []
            for piece in base.pieces(chunks, self.chunk):
                if offset + len(piece) > capacity:
                    capacity = offset + len(piece) + GROW
                    image.resize(capacity)
                if not (thin and not any(piece)):
                    if len(pending) >= IN_FLIGHT:
                        pending.pop(0).result()
                    pending.append(pool.submit(image.write, piece, offset))
                offset += len(piece)
            for done in pending:
                done.result()
            if capacity != offset:
                image.resize(offset)
            image.create_snap(SNAPSHOT)
            image.protect_snap(SNAPSHOT)
        return offset

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
        """Chunks of the image; the next is read while the caller sends this one."""
        end = offset + length
        try:
            with futures.ThreadPoolExecutor(1) as reader:
                ahead = reader.submit(image.read, offset, min(self.chunk, end - offset))
                while offset < end:
                    data = ahead.result()
                    offset += len(data)
                    if offset < end:
                        ahead = reader.submit(image.read, offset,
                                              min(self.chunk, end - offset))
                    yield data
        except (self.rados.Error, self.rbd.Error) as e:
            raise self._failed(e) from e
        finally:
            image.close()
            ioctx.close()

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

