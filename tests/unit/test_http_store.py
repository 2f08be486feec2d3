"""The http store against a real HTTP server that ignores Range (answers 200 with the
whole object, as Python's http.server does): a ranged read still gets only its range."""
from __future__ import annotations

import functools
import http.server
import threading

import pytest
from oslo_config import cfg

from glint.store.http import HttpStore

DATA = bytes(range(256)) * 8192        # 2 MiB: more than one of the store's chunks


@pytest.fixture(scope='module')
def url(tmp_path_factory):
    root = tmp_path_factory.mktemp('http')
    (root / 'image').write_bytes(DATA)
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(('127.0.0.1', 0), handler)
    server.handle_error = lambda *args: None    # our reader hangs up once it has its range
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield 'http://127.0.0.1:%d/image' % server.server_port
    server.shutdown()


@pytest.fixture
def store():
    conf = cfg.ConfigOpts()
    conf.register_opts(HttpStore.opts, group='glance_store')
    conf([])
    return HttpStore(conf, 'glance_store')


def read(reader) -> bytes:
    data = b''.join(reader.data)
    reader.close()
    return data


@pytest.mark.parametrize('offset, length', [
    (0, 10), (5, 1), (1048570, 20), (2097000, None), (0, None), (100, 5000000)])
def test_a_200_answer_to_a_range_request_is_cut_to_the_range(store, url, offset, length):
    reader = store.open(url, offset, length)
    expected = DATA[offset:None if length is None else offset + length]
    assert reader.length == len(expected)
    assert read(reader) == expected
