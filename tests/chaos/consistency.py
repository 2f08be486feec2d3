"""The check every fault ends with: what the service says and what its store holds agree.

- every ``active`` (or ``deactivated``) image downloads exactly its bytes: its size, md5
  ``checksum`` and ``os_hash_value``;
- nothing is ``saving`` (the caller makes sure no upload is live);
- the file store holds data only for such images: no data without an image.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import requests

WITH_DATA = ('active', 'deactivated')


def images(url: str, headers: dict | None = None) -> list[dict]:
    found, marker = [], None
    while True:
        params = {'limit': 200, **({'marker': marker} if marker else {})}
        page = requests.get(url + '/v2/images', params=params, headers=headers, timeout=60)
        page.raise_for_status()
        batch = page.json()['images']
        found += batch
        if len(batch) < 200:
            return found
        marker = batch[-1]['id']


def _digests(url: str, image_id: str, headers: dict | None) -> tuple[int, str, str]:
    md5, sha512, size = hashlib.md5(), hashlib.sha512(), 0
    with requests.get('%s/v2/images/%s/file' % (url, image_id), headers=headers,
                      stream=True, timeout=60) as resp:
        resp.raise_for_status()
        for chunk in resp.iter_content(1 << 20):
            md5.update(chunk)
            sha512.update(chunk)
            size += len(chunk)
    return size, md5.hexdigest(), sha512.hexdigest()


def check(url: str, datadir: Path | None = None, headers: dict | None = None) -> int:
    """Raise AssertionError on the first inconsistency; the number of images checked."""
    listed = images(url, headers)
    saving = [i['id'] for i in listed if i['status'] == 'saving']
    assert not saving, 'images left saving: %s' % saving
    with_data = {i['id']: i for i in listed if i['status'] in WITH_DATA}
    for image_id, image in with_data.items():
        if image['status'] == 'deactivated':
            continue                      # not downloadable by design; data checked below
        got = _digests(url, image_id, headers)
        want = (image['size'], image['checksum'], image['os_hash_value'])
        assert got == want, 'image %s downloads %s, expected %s' % (image_id, got, want)
    if datadir is not None:
        stored = {p.name for p in Path(datadir).iterdir()} if Path(datadir).exists() else set()
        orphans = stored - set(with_data)
        assert not orphans, 'data without an image: %s' % sorted(orphans)
        missing = set(with_data) - stored
        assert not missing, 'images without data: %s' % sorted(missing)
    return len(listed)
