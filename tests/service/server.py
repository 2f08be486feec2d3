"""Run a real glance-api process (gunicorn) for the service tests."""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def _ini(sections: dict[str, dict[str, object]]) -> str:
    lines = []
    for section, options in sections.items():
        lines.append('[%s]' % section)
        lines += ['%s = %s' % (k, v) for k, v in options.items()]
        lines.append('')
    return '\n'.join(lines)


class GlintServer:
    """glance-api on a free loopback port, with its own config, database and store.

    ``overrides`` deep-merges into the generated glance-api.conf sections.
    """

    def __init__(self, database_url: str | None = None, flavor: str = '',
                 overrides: dict | None = None, workers: int = 2):
        self.dir = Path(tempfile.mkdtemp(prefix='glint-test-'))
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.datadir = self.dir / 'images'
        self.database_url = database_url or 'sqlite:///%s' % (self.dir / 'glance.sqlite')
        sections = {
            'DEFAULT': {'bind_host': '127.0.0.1', 'bind_port': self.port,
                        'workers': workers, 'log_file': self.dir / 'glance-api.log'},
            'database': {'connection': self.database_url},
            'glance_store': {'stores': 'file,http', 'default_store': 'file',
                             'filesystem_store_datadir': self.datadir},
            'paste_deploy': {'flavor': flavor},
            'oslo_policy': {'enforce_scope': 'false'},
        }
        for section, options in (overrides or {}).items():
            sections.setdefault(section, {}).update(options)
        self.config = self.dir / 'glance-api.conf'
        self.config.write_text(_ini(sections))
        self.process: subprocess.Popen | None = None

    @property
    def log(self) -> str:
        path = self.dir / 'glance-api.log'
        return path.read_text() if path.exists() else ''

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / 'glance-manage'), '--config-file',
                               str(self.config), *args],
                              capture_output=True, text=True, check=True)

    def start(self) -> GlintServer:
        self.manage('db', 'sync')
        self.process = subprocess.Popen(
            [str(BIN / 'glance-api'), '--config-file', str(self.config)],
            stdout=open(self.dir / 'gunicorn.out', 'wb'), stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + '/healthcheck', timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        out = (self.dir / 'gunicorn.out').read_text()
        self.stop()
        raise RuntimeError('glance-api did not start:\n%s\n%s' % (out, self.log))

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
