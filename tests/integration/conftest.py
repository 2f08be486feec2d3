"""Integration tests of the glint.glance image modules: real ansible-playbook runs
against real glance-api processes (tests/service/server.py's GlintServer).

Each test writes one playbook, runs it with the ansible.posix.json callback and reads
every task's result. Tasks run with ignore_errors, so a failing task is a result to
assert on, not the end of the play.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
import yaml

from tests.service.server import GlintServer

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


@pytest.fixture(scope='session')
def collections_path():
    """A collections directory where ansible_collections/glint/glance is this checkout."""
    path = Path(tempfile.mkdtemp(prefix='glint-collections-'))
    (path / 'ansible_collections' / 'glint').mkdir(parents=True)
    (path / 'ansible_collections' / 'glint' / 'glance').symlink_to(ROOT)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope='session')
def glint():
    """glance-api without authentication (the embedded default), SQLite, file store."""
    with GlintServer() as server:
        yield server


def unique(prefix):
    return '%s-%s' % (prefix, uuid.uuid4().hex[:8])


class Ansible:
    """Runs plays of tasks on localhost with the image modules' connection defaults."""

    def __init__(self, collections, workdir, connection):
        self.collections = collections
        self.workdir = workdir
        self.connection = connection

    def run(self, tasks, interpreter=None, connection=None, env=None):
        """The result of each task, in order (a dict per task)."""
        for task in tasks:
            task.setdefault('ignore_errors', True)
            task.setdefault('diff', True)
        play = {
            'hosts': 'localhost', 'connection': 'local', 'gather_facts': False,
            'vars': {'ansible_python_interpreter': str(interpreter or sys.executable)},
            'module_defaults': {'group/glint.glance.glance': connection or self.connection},
            'tasks': tasks,
        }
        playbook = self.workdir / ('play-%s.yml' % uuid.uuid4().hex[:8])
        playbook.write_text(yaml.safe_dump([play]))
        env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(self.collections),
                   ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_PIPELINING='true',
                   ANSIBLE_LOCALHOST_WARNING='false', ANSIBLE_NOCOLOR='true',
                   PATH='%s:%s' % (BIN, os.environ['PATH']), **(env or {}))
        done = subprocess.run([str(BIN / 'ansible-playbook'), '-i', 'localhost,',
                               str(playbook)], cwd=self.workdir, env=env,
                              capture_output=True, text=True, timeout=900)
        try:
            output = json.loads(done.stdout)
        except ValueError:
            raise AssertionError('ansible-playbook (exit %d):\n%s\n%s'
                                 % (done.returncode, done.stdout[-5000:], done.stderr[-5000:]))
        results = [t['hosts']['localhost'] for t in output['plays'][0]['tasks']]
        assert len(results) == len(tasks), done.stderr
        return results


@pytest.fixture
def ansible(collections_path, glint, tmp_path):
    return Ansible(collections_path, tmp_path,
                   {'auth_type': 'none', 'endpoint': glint.url})
