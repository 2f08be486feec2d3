"""The read-only HTTP store: images whose data lives at an http(s) URL."""
from __future__ import annotations

from collections.abc import Iterable, Iterator

import requests
from oslo_config import cfg

from glint.common import exception
from glint.store import base

CHUNK = 1024 * 1024


def _slice(chunks: Iterator[bytes], start: int, end: int) -> Iterator[bytes]:
    """Bytes [start, end) of the stream ``chunks``."""
    position = 0
    for chunk in chunks:
        lo, hi = max(start - position, 0), min(end - position, len(chunk))
        position += len(chunk)
        if lo < hi:
            yield chunk[lo:hi]
        if position >= end:
            return


class HttpStore(base.Store):
    schemes = ('http', 'https')
    read_only = True
    opts = [
        cfg.StrOpt('https_ca_certificates_file', help='CA bundle for https locations.'),
        cfg.BoolOpt('https_insecure', default=True,
                    help='Skip verifying the server certificate of https locations.'),
        cfg.DictOpt('http_proxy_information', default={},
                    help='Proxies per scheme, e.g. "http:10.0.0.1:3128".'),
    ]

    def _verify(self):
        if self.options.https_insecure:
            return False
        return self.options.https_ca_certificates_file or True

    def add(self, image_id: str, chunks: Iterable[bytes], size: int | None = None) -> base.Stored:
        raise exception.Forbidden('The http store is read-only.')

    def open(self, url: str, offset: int = 0, length: int | None = None) -> base.Reader:
        headers = {}
        if offset or length is not None:
            end = '' if length is None else str(offset + length - 1)
            headers['Range'] = 'bytes=%d-%s' % (offset, end)
        try:
            resp = requests.get(url, headers=headers, stream=True, timeout=60,
                                verify=self._verify(),
                                proxies=self.options.http_proxy_information)
        except requests.RequestException as e:
            raise exception.StoreError('Fetching %s failed: %s' % (url, e))
        if resp.status_code == 404:
            raise exception.NotFound('Image data not found at %s' % url)
        if resp.status_code not in (200, 206):
            raise exception.StoreError('Fetching %s returned HTTP %s'
                                       % (url, resp.status_code))
        size = int(resp.headers.get('Content-Length', 0))
        chunks = resp.iter_content(CHUNK)
        if resp.status_code == 200 and headers:
            # The server ignored our Range and sends the whole object: cut it here.
            end = size if length is None else min(size, offset + length)
            return base.Reader(_slice(chunks, offset, end), max(end - offset, 0))
        return base.Reader(chunks, size)

    def delete(self, url: str) -> None:
        """Data at a remote URL is not ours to delete."""
