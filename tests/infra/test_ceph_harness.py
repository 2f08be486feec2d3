"""The Ceph that ceph.sh runs gives the rbd and s3 drivers what they rely on:

- client.glance (`profile rbd pool=images`) writes an RBD image through Ceph's own
  bindings in this venv, snapshots it as `snap` and protects it (rbd_store's layout),
  and a copy-on-write clone of that snapshot reads the parent's data, takes writes of
  its own, and keeps the snapshot from being unprotected (a delete must answer 409);
  the key reaches no other pool;
- radosgw takes S3 multipart uploads from boto3 with its default settings (parts,
  complete, ranged get, abort) and answers a bucket's first write without a stall.

Starts the cluster when it is not running (ceph.sh start)."""

import hashlib
import io
import os
import time

import boto3
import pytest

from tests.infra import ceph

MiB = 1 << 20
DATA = os.urandom(13 * MiB + 4321)  # several 4 MiB RBD objects, a partial last one


@pytest.fixture(scope='module')
def settings():
    ceph.ensure_running()
    return ceph.settings()


@pytest.fixture(scope='module')
def cluster(settings):
    import rados

    with rados.Rados(conffile=settings['GLINT_TEST_CEPH_CONF'],
                     rados_id=settings['GLINT_TEST_RBD_USER'],
                     conf={'keyring': settings['GLINT_TEST_RBD_KEYRING']}) as cluster:
        yield cluster


@pytest.fixture
def ioctx(cluster, settings):
    with cluster.open_ioctx(settings['GLINT_TEST_RBD_POOL']) as ioctx:
        yield ioctx


def name(kind):
    return f'harness-{kind}-{os.getpid()}-{time.monotonic_ns()}'


def test_the_key_and_the_fsid(cluster, settings):
    assert cluster.get_fsid() == settings['GLINT_TEST_CEPH_FSID']
    import rados

    with cluster.open_ioctx('default.rgw.buckets.data') as other:
        with pytest.raises(rados.PermissionError):
            other.write_full(name('object'), b'not for glance')


def test_rbd_image_snapshot_and_clone(ioctx):
    import rbd

    parent, child = name('parent'), name('child')
    rbd.RBD().create(ioctx, parent, len(DATA), old_format=False,
                     features=rbd.RBD_FEATURE_LAYERING)
    try:
        with rbd.Image(ioctx, parent) as image:
            for offset in range(0, len(DATA), 4 * MiB):
                image.write(DATA[offset:offset + 4 * MiB], offset)
            image.flush()
            image.create_snap('snap')
            image.protect_snap('snap')
        with rbd.Image(ioctx, parent, snapshot='snap', read_only=True) as image:
            assert image.read(0, len(DATA)) == DATA

        rbd.RBD().clone(ioctx, parent, 'snap', ioctx, child, features=rbd.RBD_FEATURE_LAYERING)
        try:
            with rbd.Image(ioctx, child) as clone:
                assert clone.parent_info()[1:] == (parent, 'snap')
                assert clone.read(0, len(DATA)) == DATA      # the parent's, not copied
                clone.write(b'x' * 4096, 0)                  # copy-on-write
                assert clone.read(0, 4096) == b'x' * 4096
            with rbd.Image(ioctx, parent) as image:
                assert image.read(0, 4096) == DATA[:4096]
                assert [c[1] for c in image.list_children()] == [child]
                with pytest.raises(rbd.ImageBusy):           # what makes a delete a 409
                    image.unprotect_snap('snap')
        finally:
            rbd.RBD().remove(ioctx, child)
    finally:
        with rbd.Image(ioctx, parent) as image:
            for snap in image.list_snaps():
                if image.is_protected_snap(snap['name']):
                    image.unprotect_snap(snap['name'])
                image.remove_snap(snap['name'])
        rbd.RBD().remove(ioctx, parent)
    assert parent not in rbd.RBD().list(ioctx)


@pytest.fixture
def s3(settings):
    """boto3 as the s3 driver would make it: default checksums, path-style URLs."""
    return boto3.client('s3', endpoint_url=settings['GLINT_TEST_S3_URL'],
                        aws_access_key_id=settings['GLINT_TEST_S3_ACCESS_KEY'],
                        aws_secret_access_key=settings['GLINT_TEST_S3_SECRET_KEY'],
                        region_name='us-east-1')


@pytest.fixture
def bucket(s3):
    bucket = name('bucket')
    s3.create_bucket(Bucket=bucket)
    yield bucket
    for item in s3.list_objects_v2(Bucket=bucket).get('Contents', ()):
        s3.delete_object(Bucket=bucket, Key=item['Key'])
    s3.delete_bucket(Bucket=bucket)


def test_s3_multipart_put_get(s3, bucket):
    started = time.monotonic()
    s3.put_object(Bucket=bucket, Key='small', Body=b'first write')
    assert time.monotonic() - started < 2, 'the first write stalled: rgw pools made lazily?'

    upload = s3.create_multipart_upload(Bucket=bucket, Key='image')['UploadId']
    size = 5 * MiB  # S3's least part size (but for the last)
    parts = []
    for number, offset in enumerate(range(0, len(DATA), size), start=1):
        answer = s3.upload_part(Bucket=bucket, Key='image', UploadId=upload,
                                PartNumber=number, Body=DATA[offset:offset + size])
        parts.append({'PartNumber': number, 'ETag': answer['ETag']})
    s3.complete_multipart_upload(Bucket=bucket, Key='image', UploadId=upload,
                                 MultipartUpload={'Parts': parts})

    head = s3.head_object(Bucket=bucket, Key='image')
    assert head['ContentLength'] == len(DATA)
    assert head['ETag'].endswith(f'-{len(parts)}"')
    body = s3.get_object(Bucket=bucket, Key='image')['Body'].read()
    assert hashlib.sha256(body).digest() == hashlib.sha256(DATA).digest()
    ranged = s3.get_object(Bucket=bucket, Key='image', Range='bytes=6291456-6295551')
    assert ranged['Body'].read() == DATA[6 * MiB:6 * MiB + 4096]

    copy = io.BytesIO()   # boto3's own transfer manager, as the driver may use it
    s3.download_fileobj(bucket, 'image', copy)
    assert copy.getvalue() == DATA


def test_s3_aborted_multipart_leaves_nothing(s3, bucket):
    upload = s3.create_multipart_upload(Bucket=bucket, Key='failed')['UploadId']
    s3.upload_part(Bucket=bucket, Key='failed', UploadId=upload, PartNumber=1,
                   Body=DATA[:5 * MiB])
    s3.abort_multipart_upload(Bucket=bucket, Key='failed', UploadId=upload)
    assert not s3.list_multipart_uploads(Bucket=bucket).get('Uploads')
    assert 'Contents' not in s3.list_objects_v2(Bucket=bucket)
