#!/usr/bin/env python3
"""Pack a Python source tree into a reproducible .tar.gz, on the Ansible controller.

Same tree, same bytes: entries sorted, mtime 0, owner root, modes 0644/0755, no gzip
name or time, and no build or cache leftovers (__pycache__, *.egg-info, build/, ...).
So the copy to the target reports a change exactly when the source changed, and pip
installs the archive like an sdist (one top-level directory, pyproject.toml inside).

usage: pack_source.py SOURCE_DIR DEST_FILE
Prints JSON: {"path": DEST_FILE, "sha256": ..., "written": bool}; DEST_FILE is only
rewritten when its bytes would change.
"""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import sys
import tarfile

SKIP_DIRS = {'__pycache__', '.git', '.venv', '.tox', '.nox', '.pytest_cache',
             '.ruff_cache', '.mypy_cache', 'build', 'dist'}
SKIP_SUFFIXES = ('.pyc', '.pyo', '.swp', '~')
TOP = 'glint-src'


def files(root: str):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames
                             if d not in SKIP_DIRS and not d.endswith('.egg-info'))
        for name in sorted(filenames):
            if not name.endswith(SKIP_SUFFIXES):
                yield os.path.join(dirpath, name)


def pack(root: str) -> bytes:
    raw = io.BytesIO()
    with gzip.GzipFile(filename='', mode='wb', fileobj=raw, mtime=0) as gz:
        with tarfile.open(fileobj=gz, mode='w', format=tarfile.PAX_FORMAT) as tar:
            for path in files(root):
                with open(path, 'rb') as f:
                    data = f.read()
                info = tarfile.TarInfo(TOP + '/' + os.path.relpath(path, root).replace(os.sep, '/'))
                info.size = len(data)
                info.mode = 0o755 if os.access(path, os.X_OK) else 0o644
                info.mtime = 0
                info.uid = info.gid = 0
                info.uname = info.gname = 'root'
                tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def main(argv: list[str]) -> int:
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    source, dest = argv[1], argv[2]
    if not os.path.isfile(os.path.join(source, 'pyproject.toml')):
        print('%s: no pyproject.toml, not a Python source tree' % source, file=sys.stderr)
        return 1
    data = pack(source)
    try:
        with open(dest, 'rb') as f:
            written = f.read() != data
    except FileNotFoundError:
        written = True
    if written:
        os.makedirs(os.path.dirname(os.path.abspath(dest)), exist_ok=True)
        tmp = dest + '.tmp'
        with open(tmp, 'wb') as f:
            f.write(data)
        os.replace(tmp, dest)
    print(json.dumps({'path': os.path.abspath(dest), 'written': written,
                      'sha256': hashlib.sha256(data).hexdigest()}))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
