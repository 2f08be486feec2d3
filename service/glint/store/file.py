"""The filesystem store: one file per image under filesystem_store_datadir(s)."""
from __future__ import annotations

import ctypes
import errno
import os
import urllib.parse
from collections.abc import Iterable, Iterator

from oslo_config import cfg

from glint.common import exception
from glint.store import base

# fallocate(2) itself: os.posix_fallocate falls back to writing every block where the
# file system has no fallocate (older NFS), which would cost more than it saves.
_fallocate = getattr(ctypes.CDLL(None, use_errno=True), 'fallocate', None)
if _fallocate is not None:
    _fallocate.argtypes = (ctypes.c_int, ctypes.c_int, ctypes.c_int64, ctypes.c_int64)
_FALLOC_FL_KEEP_SIZE = 0x01


def reserve(fd: int, size: int) -> None:
    """Allocate ``size`` bytes of blocks for a new file before writing it, so that a full
    disk fails the upload at once instead of after the bytes arrived, and ext4 skips
    its per-page delayed-allocation bookkeeping (about 40 % of a 1 GiB write's system
    time here). KEEP_SIZE: the file's size stays what is written.

    A size beyond what the file system has free is refused without allocating: ext4
    would otherwise fill the disk block by block before it failed, and every other
    writer on it would see it full meanwhile."""
    vfs = os.fstatvfs(fd)
    if size > vfs.f_bavail * vfs.f_frsize:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
    if _fallocate is None or _fallocate(fd, _FALLOC_FL_KEEP_SIZE, 0, size) == 0:
        return
    # only "it does not fit" fails here; any other refusal (no fallocate, or EINVAL for
    # a negative declared size, which the domain answers with 400) writes as usual
    err = ctypes.get_errno()
    if err in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        raise OSError(err, os.strerror(err))


def _unlink(path: str) -> None:
    """Remove a failed upload's file, which deleting its image may have done already."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


class BoundedFile:
    """A file limited to ``length`` bytes from its current position.

    It keeps ``fileno`` so gunicorn can still sendfile it (gunicorn sends exactly the
    Content-Length), while other servers read through the bound.
    """

    def __init__(self, f, length: int):
        self._f = f
        self._left = length

    def fileno(self) -> int:
        return self._f.fileno()

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        data = self._f.read(size) if size else b''
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()


class FileStore(base.Store):
    schemes = ('file', 'filesystem')
    opts = [
        cfg.StrOpt('filesystem_store_datadir', default='/var/lib/glance/images',
                   help='Directory where image files are written.'),
        cfg.MultiStrOpt('filesystem_store_datadirs',
                        help='Several directories ("path:priority"); the first with '
                             'the highest priority receives new images.'),
        cfg.IntOpt('filesystem_store_file_perm', default=0,
                   help='Octal-like permission bits for new image files; 0 keeps '
                        'the umask default.'),
    ]

    def configure(self) -> None:
        self.datadir = self._write_dir()
        os.makedirs(self.datadir, exist_ok=True)

    def _ranked_dirs(self) -> list[tuple[int, str]]:
        """(priority, path) of filesystem_store_datadirs, or of the one datadir."""
        dirs = self.options.filesystem_store_datadirs
        if not dirs:
            return [(0, self.options.filesystem_store_datadir)]
        ranked = []
        for entry in dirs:
            path, _, priority = entry.rpartition(':')
            if not path or not priority.isdigit():
                path, priority = entry, '0'
            ranked.append((int(priority), path))
        return ranked

    def _write_dir(self) -> str:
        return max(self._ranked_dirs(), key=lambda item: item[0])[1]

    def add(self, image_id: str, chunks: Iterable[bytes],
            size: int | None = None) -> base.Stored:
        path = os.path.join(self.datadir, image_id)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o640)
        except FileExistsError:
            raise exception.Conflict('Image data for %s already exists.' % image_id)
        written = 0
        try:
            if size:
                reserve(fd, size)
            for chunk in chunks:
                view = memoryview(chunk)
                while view:
                    view = view[os.write(fd, view):]
                written += len(chunk)
            if self.options.filesystem_store_file_perm:
                os.fchmod(fd, int(str(self.options.filesystem_store_file_perm), 8))
        except OSError as e:
            os.close(fd)
            _unlink(path)
            if e.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
                raise exception.StorageFull()
            raise exception.StoreError('Writing image data failed: %s' % e.strerror)
        except BaseException:
            os.close(fd)
            _unlink(path)
            raise
        os.close(fd)
        return base.Stored(url='file://' + path, size=written)

    def details(self) -> dict:
        return {'data_dir': self.datadir, 'chunk_size': 1024 * 1024,
                'thin_provisioning': False}

    def owns(self, url: str) -> bool:
        path = self._path(url)
        return any(path.startswith(os.path.join(d, '')) for _, d in self._ranked_dirs())

    @staticmethod
    def _path(url: str) -> str:
        return urllib.parse.unquote(urllib.parse.urlsplit(url).path)

    def open(self, url: str, offset: int = 0, length: int | None = None) -> base.Reader:
        try:
            f = open(self._path(url), 'rb', buffering=0)
        except FileNotFoundError:
            raise exception.NotFound('Image data not found at %s' % url)
        except OSError as e:        # unreadable: a directory, permissions, I/O error
            raise exception.StoreError('Reading image data failed: %s' % e.strerror)
        size = os.fstat(f.fileno()).st_size
        if length is None:
            length = size - offset
        if offset:
            f.seek(offset)
        if offset + length < size:
            return base.Reader(BoundedFile(f, length), length)
        return base.Reader(f, length)

    def delete(self, url: str) -> None:
        _unlink(self._path(url))

    def discard(self, image_id: str) -> None:
        # every directory: the one new images go to may have changed since
        for _, directory in self._ranked_dirs():
            self.delete('file://' + os.path.join(directory, image_id))

    def held(self) -> Iterator[base.Held]:
        for _, directory in self._ranked_dirs():
            try:
                entries = list(os.scandir(directory))
            except FileNotFoundError:
                continue
            for entry in entries:
                if entry.is_file(follow_symlinks=False):
                    yield base.Held(entry.name, 'file://' + entry.path,
                                    entry.stat(follow_symlinks=False).st_size)

    def key(self, url: str) -> str:
        return os.path.normpath(self._path(url))
