"""The s3 store: each image an object in one bucket of an S3 service (AWS, Ceph's
RADOS Gateway, ...), through boto3.

An image below ``s3_store_large_object_size`` is one PUT; a larger one, or one whose
size is not known before the end, is a multipart upload of
``s3_store_large_object_chunk_size`` parts, ``s3_store_thread_pools`` of them (fewer if
they would hold more than 32 MiB) under way at once. A failed upload is aborted, so
nothing is left in the bucket. Locations are ``s3://<host>/<bucket>/<image id>``
(``s3+https://`` over TLS): unlike glance_store, Glint never writes the keys into a
location, where the database and ``direct_url`` would show them.
"""
from __future__ import annotations

import ctypes
import threading
import urllib.parse
from collections.abc import Iterable, Iterator
from concurrent import futures

import boto3
import botocore.config
import botocore.exceptions
from oslo_config import cfg

from glint.common import exception
from glint.store import base

MiB = 1024 * 1024
MIN_PART = 5 * MiB               # S3's smallest part but the last
PARTS_IN_MEMORY = 32 * MiB       # bound of the parts one upload holds while sending
_malloc_trim = getattr(ctypes.CDLL(None), 'malloc_trim', None)   # glibc's


def _give_back() -> None:
    """glibc keeps what a transfer's threads freed in their malloc arenas (40-80 MB
    after a 1 GiB upload, measured): hand it back to the system."""
    if _malloc_trim is not None:
        _malloc_trim(0)
READ_CHUNK = MiB


class S3Store(base.Store):
    schemes = ('s3', 's3+http', 's3+https')
    opts = [
        cfg.StrOpt('s3_store_host', help='S3 endpoint: http(s)://host[:port], or '
                                         'host[:port] for http.'),
        cfg.StrOpt('s3_store_access_key', secret=True, help='S3 access key.'),
        cfg.StrOpt('s3_store_secret_key', secret=True, help='S3 secret key.'),
        cfg.StrOpt('s3_store_bucket', help='Bucket of the images.'),
        cfg.StrOpt('s3_store_region_name', default='', help='S3 region, if any.'),
        cfg.BoolOpt('s3_store_create_bucket_on_put', default=False,
                    help='Create the bucket on the first upload if it is missing.'),
        cfg.StrOpt('s3_store_bucket_url_format', default='auto',
                   choices=('auto', 'virtual', 'path'),
                   help='Bucket in the host name (virtual) or in the path.'),
        cfg.IntOpt('s3_store_large_object_size', default=100, min=1,
                   help='Images of this many MiB or more are multipart uploads.'),
        cfg.IntOpt('s3_store_large_object_chunk_size', default=10, min=5,
                   help='Part size of multipart uploads, in MiB.'),
        cfg.IntOpt('s3_store_thread_pools', default=10, min=1,
                   help='Parts of one multipart upload sent at once.'),
    ]

    def __init__(self, conf: cfg.ConfigOpts, group: str):
        super().__init__(conf, group)
        o = self.options
        for name in ('s3_store_host', 's3_store_access_key', 's3_store_secret_key',
                     's3_store_bucket'):
            if not o[name]:
                raise exception.InvalidConfig(group, name, 'the s3 store needs it.')
        endpoint = o.s3_store_host if '://' in o.s3_store_host else 'http://' + o.s3_store_host
        self.endpoint = endpoint
        self.netloc = urllib.parse.urlsplit(endpoint).netloc
        self.scheme = 's3+https' if endpoint.startswith('https:') else 's3'
        self.bucket = o.s3_store_bucket
        self.threshold = o.s3_store_large_object_size * MiB
        self.part = max(o.s3_store_large_object_chunk_size * MiB, MIN_PART)
        self.in_flight = max(1, min(o.s3_store_thread_pools, PARTS_IN_MEMORY // self.part))
        self._client = None
        self._lock = threading.Lock()
        self._bucket_checked = False

    @property
    def client(self):
        """One boto3 client per process (clients are thread-safe), made on first use."""
        with self._lock:
            if self._client is None:
                o = self.options
                self._client = boto3.session.Session().client(
                    's3', endpoint_url=self.endpoint, region_name=o.s3_store_region_name or None,
                    aws_access_key_id=o.s3_store_access_key,
                    aws_secret_access_key=o.s3_store_secret_key,
                    config=botocore.config.Config(
                        s3={'addressing_style': o.s3_store_bucket_url_format},
                        connect_timeout=10, read_timeout=60,
                        retries={'max_attempts': 2, 'mode': 'standard'},
                        max_pool_connections=self.in_flight + 4,
                        request_checksum_calculation='when_required',
                        response_checksum_validation='when_required'))
            return self._client

    def _failed(self, e: Exception) -> exception.GlintError:
        if isinstance(e, exception.GlintError):
            return e
        code = getattr(e, 'response', {}).get('Error', {}).get('Code', '')
        if code in ('NoSuchKey', '404', 'NotFound'):
            return exception.NotFound('Image data not found in S3.')
        if code in ('EntityTooLarge', 'QuotaExceeded'):
            return exception.StorageFull()
        return exception.StoreError('S3 failed: %s' % e)

    def _key(self, url: str) -> tuple[str, str]:
        """(bucket, key) of s3://[keys@]host/bucket/key."""
        path = urllib.parse.urlsplit(url).path.lstrip('/')
        bucket, _, key = path.partition('/')
        if not bucket or not key:
            raise exception.BadRequest('Invalid s3 location %s' % url)
        return bucket, urllib.parse.unquote(key)

    def _ensure_bucket(self) -> None:
        if self._bucket_checked:
            return
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except botocore.exceptions.ClientError as e:
            if e.response.get('Error', {}).get('Code') not in ('404', 'NoSuchBucket'):
                raise
            if not self.options.s3_store_create_bucket_on_put:
                raise exception.StoreError(
                    'S3 bucket "%s" does not exist (s3_store_create_bucket_on_put is '
                    'false).' % self.bucket)
            self.client.create_bucket(Bucket=self.bucket)
        self._bucket_checked = True

    def add(self, image_id: str, chunks: Iterable[bytes | memoryview],
            size: int | None = None) -> base.Stored:
        try:
            self._ensure_bucket()
            try:
                self.client.head_object(Bucket=self.bucket, Key=image_id)
                raise exception.Conflict('Image data for %s already exists.' % image_id)
            except botocore.exceptions.ClientError as e:
                if e.response.get('Error', {}).get('Code') not in ('404', 'NoSuchKey'):
                    raise
            written = self._upload(image_id, chunks, size)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e
        finally:
            _give_back()
        url = '%s://%s/%s/%s' % (self.scheme, self.netloc, self.bucket,
                                 urllib.parse.quote(image_id))
        return base.Stored(url=url, size=written)

    def _upload(self, key: str, chunks: Iterable, size: int | None) -> int:
        """One PUT if the stream ends below the threshold, else a multipart upload:
        at once when the declared size says so (else the first 100 MiB, by default,
        would be held in memory before the first part goes)."""
        held, total = [], 0
        parts = base.pieces(chunks, self.part)
        if size is not None and size >= self.threshold:
            return self._multipart(key, held, parts)
        for piece in parts:
            held.append(piece)
            total += len(piece)
            if total >= self.threshold:
                return self._multipart(key, held, parts)
        self.client.put_object(Bucket=self.bucket, Key=key, Body=b''.join(held))
        return total

    def _multipart(self, key: str, first: list[bytes], rest: Iterable[bytes]) -> int:
        """Upload ``first`` then ``rest`` as parts, in_flight at once; abort on any
        failure (or a client gone) so no part is left behind. Returns the size."""
        upload = self.client.create_multipart_upload(Bucket=self.bucket, Key=key)['UploadId']
        sent, done, pending = 0, [], []

        def put(number: int, body: bytes) -> dict:
            etag = self.client.upload_part(Bucket=self.bucket, Key=key, UploadId=upload,
                                           PartNumber=number, Body=body)['ETag']
            return {'PartNumber': number, 'ETag': etag}
        try:
            with futures.ThreadPoolExecutor(self.in_flight) as pool:
                for number, body in enumerate(_chain(first, rest), start=1):
                    if len(pending) >= self.in_flight:
                        done.append(pending.pop(0).result())
                    pending.append(pool.submit(put, number, body))
                    sent += len(body)
                done += [p.result() for p in pending]
            self.client.complete_multipart_upload(
                Bucket=self.bucket, Key=key, UploadId=upload,
                MultipartUpload={'Parts': done})
        except BaseException:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=key, UploadId=upload)
            raise
        return sent

    def details(self) -> dict:
        o = self.options
        return {'s3_store_large_object_size': o.s3_store_large_object_size,
                's3_store_large_object_chunk_size': o.s3_store_large_object_chunk_size,
                's3_store_thread_pools': o.s3_store_thread_pools}

    def open(self, url: str, offset: int = 0, length: int | None = None) -> base.Reader:
        bucket, key = self._key(url)
        ranged = {}
        if offset or length is not None:
            end = '' if length is None else str(offset + length - 1)
            ranged['Range'] = 'bytes=%d-%s' % (offset, end)
        try:
            got = self.client.get_object(Bucket=bucket, Key=key, **ranged)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e
        body = got['Body']
        return base.Reader(_Body(body, self._failed), got['ContentLength'])

    def delete(self, url: str) -> None:
        bucket, key = self._key(url)
        try:
            self.client.delete_object(Bucket=bucket, Key=key)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e


    def discard(self, image_id: str) -> None:
        """The object, and any multipart upload of it a dead worker left open."""
        try:
            for upload in self._multipart_uploads(image_id):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload['Key'],
                                                   UploadId=upload['UploadId'])
            self.client.delete_object(Bucket=self.bucket, Key=image_id)
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e

    def _multipart_uploads(self, prefix: str = '') -> list[dict]:
        pages = self.client.get_paginator('list_multipart_uploads').paginate(
            Bucket=self.bucket, Prefix=prefix)
        return [u for page in pages for u in page.get('Uploads', [])
                if not prefix or u['Key'] == prefix]

    def held(self) -> Iterator[base.Held]:
        """The bucket's objects and unfinished multipart uploads (their parts take
        space too; their URL is the object's, and removing it aborts them)."""
        try:
            pages = self.client.get_paginator('list_objects_v2').paginate(
                Bucket=self.bucket)
            found = [(o['Key'], o['Size'], False) for page in pages
                     for o in page.get('Contents', [])]
            found += [(u['Key'], None, True) for u in self._multipart_uploads()]
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e
        for name, size, partial in found:
            yield base.Held(name, '%s://%s/%s/%s' % (self.scheme, self.netloc, self.bucket,
                                                     urllib.parse.quote(name)), size, partial)

    def remove(self, held: base.Held) -> None:
        if not held.partial:
            return self.delete(held.url)
        try:
            for upload in self._multipart_uploads(held.name):
                self.client.abort_multipart_upload(Bucket=self.bucket, Key=upload['Key'],
                                                   UploadId=upload['UploadId'])
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError) as e:
            raise self._failed(e) from e

    def key(self, url: str) -> tuple[str, str]:
        return self._key(url)


def _chain(first: list[bytes], rest: Iterable[bytes]):
    while first:
        yield first.pop(0)       # popped: a sent part is not held here any more
    yield from rest


class _Body:
    """An object's body as chunks; an S3 failure mid-way is the API's error."""

    def __init__(self, body, failed):
        self.body = body
        self.failed = failed

    def __iter__(self):
        try:
            yield from self.body.iter_chunks(READ_CHUNK)
        except (botocore.exceptions.BotoCoreError, OSError) as e:
            raise self.failed(e) from e

    def close(self) -> None:
        self.body.close()
        _give_back()
