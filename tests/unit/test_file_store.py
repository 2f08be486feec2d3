"""The file store's use of the declared size: blocks reserved before the first write
(on this host's real file system), the file's size always what was written, and a size
the file system cannot hold refused before any byte is read."""
from __future__ import annotations

import os
import shutil

import pytest
from oslo_config import cfg

from glint.common import exception
from glint.store.file import FileStore

MIB = 1 << 20


@pytest.fixture
def store(tmp_path):
    conf = cfg.ConfigOpts()
    conf.register_opts(FileStore.opts, group='glance_store')
    conf([], default_config_files=[])
    conf.set_override('filesystem_store_datadir', str(tmp_path), group='glance_store')
    s = FileStore(conf, 'glance_store')
    s.configure()
    return s


def test_declared_size_is_reserved_before_writing(store, tmp_path):
    seen = {}

    def chunks():
        yield b'a' * MIB
        st = os.stat(tmp_path / 'img')      # after the first write, before the rest
        seen.update(size=st.st_size, allocated=st.st_blocks * 512)
        yield b'b' * MIB
        yield b'c' * 1000

    stored = store.add('img', chunks(), 2 * MIB + 1000)
    assert seen['size'] == MIB                     # KEEP_SIZE: only what was written
    assert seen['allocated'] >= 2 * MIB + 1000     # the rest already reserved
    assert stored.size == os.path.getsize(tmp_path / 'img') == 2 * MIB + 1000


def test_less_data_than_declared_leaves_the_size_written(store, tmp_path):
    # the domain layer refuses the mismatch; the store reports the truth
    stored = store.add('img', iter([b'x' * 1000]), 8 * MIB)
    assert stored.size == os.path.getsize(tmp_path / 'img') == 1000


def test_a_size_the_file_system_cannot_hold_fails_before_reading(store, tmp_path):
    read = []

    def chunks():
        read.append(1)
        yield b'x'

    # more than this file system has free: refused without allocating anything
    with pytest.raises(exception.StorageFull):
        store.add('img', chunks(), shutil.disk_usage(tmp_path).free + (1 << 30))
    assert read == []
    assert not (tmp_path / 'img').exists()


def test_without_a_declared_size_nothing_is_reserved(store, tmp_path):
    stored = store.add('img', iter([b'y' * 4096]))
    assert stored.size == 4096
    assert os.stat(tmp_path / 'img').st_blocks * 512 < MIB
