"""What ceph.sh's cluster takes from its own clients on this machine: the figures the
rbd and s3 drivers are measured against (not a test; never part of CI).

    .venv/bin/python -m tests.infra.ceph_bench [MiB]     # default 1024; from the root

One file of random data (in the state dir, deleted afterwards) goes up and down:
through Ceph's bindings as client.glance in 8 MiB writes (rbd_store_chunk_size's
default) and reads, through `rbd import` / `rbd export` (the native CLI), and as
an S3 multipart upload / download with boto3's transfer manager (8 MiB parts, 10
threads). Prints MiB/s for each and the daemons' RSS before and after.
"""

import hashlib
import os
import subprocess
import sys
import time
from pathlib import Path

import boto3
import rados
import rbd
from boto3.s3.transfer import TransferConfig

from tests.infra import ceph

MiB = 1 << 20
CHUNK = 8 * MiB


def rss(conf):
    """{daemon: RSS in MB} of the cluster's daemons, from their pid files."""
    run = Path(conf).parent / 'run'
    found = {}
    for pidfile in sorted(run.glob('*.pid')):
        status = Path(f'/proc/{pidfile.read_text().strip()}/status').read_text()
        kib = int(next(line.split()[1] for line in status.splitlines()
                       if line.startswith('VmRSS:')))
        found[pidfile.stem] = round(kib / 1024)
    return found


def timed(label, size, action):
    started = time.monotonic()
    result = action()
    seconds = time.monotonic() - started
    print(f'{label:<34} {seconds:6.2f} s  {size / MiB / seconds:6.0f} MiB/s', flush=True)
    return result


def digest_of(path):
    digest = hashlib.sha256()
    with open(path, 'rb') as file:
        while chunk := file.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def rbd_bindings(settings, path, size, name):
    with rados.Rados(conffile=settings['GLINT_TEST_CEPH_CONF'],
                     rados_id=settings['GLINT_TEST_RBD_USER']) as cluster, \
            cluster.open_ioctx(settings['GLINT_TEST_RBD_POOL']) as ioctx:
        rbd.RBD().create(ioctx, name, size, old_format=False, features=rbd.RBD_FEATURE_LAYERING)
        try:
            def write():
                with rbd.Image(ioctx, name) as image, open(path, 'rb') as file:
                    offset = 0
                    while chunk := file.read(CHUNK):
                        image.write(chunk, offset)
                        offset += len(chunk)
                    image.flush()

            def read():
                digest = hashlib.sha256()
                with rbd.Image(ioctx, name, read_only=True) as image:
                    for offset in range(0, size, CHUNK):
                        digest.update(image.read(offset, min(CHUNK, size - offset)))
                return digest.hexdigest()

            timed('rbd bindings write (8 MiB)', size, write)
            return timed('rbd bindings read (8 MiB, sha256)', size, read)
        finally:
            rbd.RBD().remove(ioctx, name)


def rbd_cli(settings, path, size, name):
    env = {**os.environ, 'CEPH_CONF': settings['GLINT_TEST_CEPH_CONF'],
           'CEPH_ARGS': f"--id {settings['GLINT_TEST_RBD_USER']}"}
    image = f"{settings['GLINT_TEST_RBD_POOL']}/{name}"

    def rbd_command(*arguments):
        subprocess.run(['rbd', '--no-progress', *arguments], env=env, check=True,
                       stdout=subprocess.DEVNULL)

    try:
        timed('rbd import (CLI)', size, lambda: rbd_command('import', str(path), image))
        timed('rbd export (CLI, to /dev/null)', size,
              lambda: rbd_command('export', image, '-'))
    finally:
        rbd_command('rm', image)


def s3(settings, path, size, name):
    client = boto3.client('s3', endpoint_url=settings['GLINT_TEST_S3_URL'],
                          aws_access_key_id=settings['GLINT_TEST_S3_ACCESS_KEY'],
                          aws_secret_access_key=settings['GLINT_TEST_S3_SECRET_KEY'],
                          region_name='us-east-1')
    transfer = TransferConfig(multipart_threshold=CHUNK, multipart_chunksize=CHUNK,
                              max_concurrency=10)
    client.create_bucket(Bucket=name)
    copy = path.with_suffix('.s3')
    try:
        timed('s3 multipart upload (boto3)', size,
              lambda: client.upload_file(str(path), name, 'image', Config=transfer))
        timed('s3 download (boto3, to a file)', size,
              lambda: client.download_file(name, 'image', str(copy), Config=transfer))
        return digest_of(copy)
    finally:
        copy.unlink(missing_ok=True)
        client.delete_object(Bucket=name, Key='image')
        client.delete_bucket(Bucket=name)


def main(mib=1024):
    ceph.ensure_running()
    settings = ceph.settings()
    size = int(mib) * MiB
    path = Path(settings['GLINT_TEST_CEPH_CONF']).parent.with_name('ceph-bench') / 'data.bin'
    path.parent.mkdir(exist_ok=True)
    name = f'bench-{os.getpid()}'
    print('RSS MB before:', rss(settings['GLINT_TEST_CEPH_CONF']))
    try:
        with open(path, 'wb') as file:
            for _ in range(size // CHUNK):
                file.write(os.urandom(CHUNK))
        expected = digest_of(path)  # also puts the file in the page cache
        assert rbd_bindings(settings, path, size, name) == expected
        rbd_cli(settings, path, size, name)
        assert s3(settings, path, size, name) == expected
    finally:
        path.unlink(missing_ok=True)
        path.parent.rmdir()
    print('RSS MB after: ', rss(settings['GLINT_TEST_CEPH_CONF']))


if __name__ == '__main__':
    main(*sys.argv[1:])
