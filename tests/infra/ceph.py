"""The real Ceph that the rbd and s3 store tests use (ceph.sh), from pytest.

    settings()        the GLINT_TEST_* values of `ceph.sh env` (conf, pool, user, S3)
    ensure_running()  `ceph.sh start`: a no-op when it runs; raise if that fails

Needs nothing beyond the standard library; the tests themselves need Ceph's
bindings in the venv (`ceph.sh bindings .venv`, `make ceph`) and boto3.
"""

import shlex
import subprocess
from pathlib import Path

CEPH_SH = Path(__file__).resolve().parent / 'ceph.sh'


def _run(*arguments):
    return subprocess.run(['bash', str(CEPH_SH), *arguments], capture_output=True, text=True)


def settings():
    """{'GLINT_TEST_CEPH_CONF': ..., 'GLINT_TEST_S3_URL': ..., ...} of the cluster."""
    done = _run('env')
    if done.returncode:
        raise RuntimeError(f'ceph.sh env failed (no cluster?): {done.stderr}')
    values = {}
    for line in done.stdout.splitlines():
        [assignment] = shlex.split(line.removeprefix('export '))
        name, _, value = assignment.partition('=')
        values[name] = value
    return values


def ensure_running():
    """Start the cluster unless it runs, and wait until it is healthy."""
    done = _run('start')
    if done.returncode:
        raise RuntimeError(f'ceph.sh start failed (exit {done.returncode}):\n'
                           f'{done.stdout}{done.stderr}')
