"""boto3 as a native S3 client, for the bench's s3 rows (bench/run.py runs it with Glint's
venv, which has boto3): the yardstick the s3 drivers are held against, with boto3's
default transfer settings (TransferConfig(): multipart from 8 MiB, 8 MiB parts, 10
threads; and botocore's default checksums).

    python s3_client.py upload FILE BUCKET KEY     # upload_file; creates the bucket
    python s3_client.py download BUCKET KEY        # download_fileobj into a discarding sink
    python s3_client.py delete BUCKET KEY
    python s3_client.py purge BUCKET...            # every object and multipart upload, the bucket

Endpoint and keys from S3_URL, S3_ACCESS_KEY, S3_SECRET_KEY. Prints one JSON line:
seconds and this process's CPU seconds of the transfer alone (not Python's start).
"""
from __future__ import annotations

import json
import os
import sys
import time

import boto3
import botocore.exceptions


class Discard:
    """A seekable sink: boto3 writes the parts of a download in any order."""

    def __init__(self):
        self.pos = self.size = 0

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        self.pos = pos if whence == 0 else self.pos + pos if whence == 1 else self.size + pos
        return self.pos

    def tell(self) -> int:
        return self.pos

    def write(self, data) -> int:
        self.pos += len(data)
        self.size = max(self.size, self.pos)
        return len(data)


def client():
    return boto3.client('s3', endpoint_url=os.environ['S3_URL'],
                        aws_access_key_id=os.environ['S3_ACCESS_KEY'],
                        aws_secret_access_key=os.environ['S3_SECRET_KEY'],
                        region_name='us-east-1')


def purge(s3, bucket: str) -> int:
    """Delete everything in the bucket and the bucket; returns the objects deleted."""
    n = 0
    try:
        for page in s3.get_paginator('list_objects_v2').paginate(Bucket=bucket):
            for obj in page.get('Contents', []):
                s3.delete_object(Bucket=bucket, Key=obj['Key'])
                n += 1
        for up in s3.list_multipart_uploads(Bucket=bucket).get('Uploads', []):
            s3.abort_multipart_upload(Bucket=bucket, Key=up['Key'], UploadId=up['UploadId'])
        s3.delete_bucket(Bucket=bucket)
    except botocore.exceptions.ClientError as e:
        if e.response.get('Error', {}).get('Code') != 'NoSuchBucket':
            raise
    return n


def main(argv: list[str]) -> int:
    s3 = client()
    cmd, args = argv[0], argv[1:]
    out: dict = {}
    if cmd == 'upload':
        path, bucket, key = args
        try:
            s3.head_bucket(Bucket=bucket)
        except botocore.exceptions.ClientError:
            s3.create_bucket(Bucket=bucket)
        cpu0, t0 = time.process_time(), time.perf_counter()
        s3.upload_file(path, bucket, key)
        out = {'bytes': os.path.getsize(path)}
    elif cmd == 'download':
        bucket, key = args
        sink = Discard()
        cpu0, t0 = time.process_time(), time.perf_counter()
        s3.download_fileobj(bucket, key, sink)
        out = {'bytes': sink.size}
    elif cmd == 'delete':
        bucket, key = args
        cpu0, t0 = time.process_time(), time.perf_counter()
        s3.delete_object(Bucket=bucket, Key=key)
    elif cmd == 'purge':
        cpu0, t0 = time.process_time(), time.perf_counter()
        out = {'deleted': {b: purge(s3, b) for b in args}}
    else:
        sys.exit(__doc__)
    out.update(seconds=time.perf_counter() - t0, cpu_s=time.process_time() - cpu0)
    print(json.dumps(out), flush=True)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
