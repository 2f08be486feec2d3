"""Run real Glint processes for the service tests: glance-api (GlintServer) and
glance-registry (RegistryServer), each a gunicorn on a free loopback port with its own
directory, config file and log."""
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


class ServiceProcess:
    """One glance-* service: ``command`` with ``<command>.conf`` in a fresh directory.

    Subclasses give their own config sections; ``overrides`` deep-merges into them.
    ``owns_database``: ``glance-manage db sync`` runs with this config before a start.
    As a context manager: started on entry, cleaned up on exit (or a failed start).
    """
    command = ''
    owns_database = True
    # Every service a test session has started and not cleaned up: tests/service/
    # conftest.py checks their logs for errors after each test.
    live: list[ServiceProcess] = []

    def __init__(self, workers: int):
        self.dir = Path(tempfile.mkdtemp(prefix='glint-test-'))
        self.port = free_port()
        self.url = 'http://127.0.0.1:%d' % self.port
        self.config = self.dir / (self.command + '.conf')
        self.workers = workers
        self.process: subprocess.Popen | None = None

    def _write_config(self, sections: dict, overrides: dict | None) -> None:
        merged = {'DEFAULT': {'bind_host': '127.0.0.1', 'bind_port': self.port,
                              'workers': self.workers,
                              'log_file': self.dir / (self.command + '.log')}}
        for extra in (sections, overrides or {}):
            for section, options in extra.items():
                merged.setdefault(section, {}).update(options)
        self.config.write_text(_ini(merged))

    @property
    def log_path(self) -> Path:
        return self.dir / (self.command + '.log')

    @property
    def log(self) -> str:
        return self.log_since(0)

    def log_size(self) -> int:
        return self.log_path.stat().st_size if self.log_path.exists() else 0

    def log_since(self, offset: int) -> str:
        if not self.log_path.exists():
            return ''
        with open(self.log_path, 'rb') as log:
            log.seek(offset)
            return log.read().decode(errors='replace')

    def _config_args(self) -> list[str]:
        """Only our config: an empty --config-dir keeps oslo.config from also reading
        /etc/glance/<prog>.conf.d of the machine running the tests."""
        empty = self.dir / 'conf.d'
        empty.mkdir(exist_ok=True)
        return ['--config-file', str(self.config), '--config-dir', str(empty)]

    def argv(self, *args: str) -> list[str]:
        return [str(BIN / self.command), *self._config_args(), *args]

    def manage(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([str(BIN / 'glance-manage'), *self._config_args(), *args],
                              capture_output=True, text=True, check=True)

    def start(self):
        """Start (or start again after ``stop``) and wait for /healthcheck."""
        if self.owns_database:
            self.manage('db', 'sync')
        if self not in ServiceProcess.live:
            ServiceProcess.live.append(self)
        out = self.dir / 'gunicorn.out'
        self.process = subprocess.Popen(self.argv(), stdout=open(out, 'ab'),
                                        stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                if requests.get(self.url + '/healthcheck', timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError('%s did not start:\n%s\n%s'
                           % (self.command, out.read_text(), self.log))

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def __enter__(self):
        try:
            return self.start()
        except BaseException:
            self.cleanup()
            raise

    def __exit__(self, *exc_info) -> None:
        self.cleanup()

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the whole process group (gunicorn and its workers)."""
        os.killpg(self.process.pid, signum)

    def stop(self) -> None:
        if self.running:
            self.signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.signal(signal.SIGKILL)
                self.process.wait()

    def cleanup(self) -> None:
        self.stop()
        if self in ServiceProcess.live:
            ServiceProcess.live.remove(self)
        shutil.rmtree(self.dir, ignore_errors=True)


class RegistryServer(ServiceProcess):
    """glance-registry over its own database (SQLite in its directory by default)."""
    command = 'glance-registry'

    def __init__(self, database_url: str | None = None, flavor: str = '',
                 overrides: dict | None = None, workers: int = 2):
        super().__init__(workers)
        self.database_url = database_url or 'sqlite:///%s' % (self.dir / 'glance.sqlite')
        self._write_config({
            'database': {'connection': self.database_url},
            'paste_deploy': {'flavor': flavor},
            # Never the host's /etc/glance/policy.yaml: each server's rules are its own.
            'oslo_policy': {'enforce_scope': 'false',
                            'policy_file': self.dir / 'policy.yaml'},
        }, overrides)


class GlintServer(ServiceProcess):
    """glance-api with its own config and store; its database is its own, or that of
    ``registry`` (then ``data_api = glint.db.registry.api``, no [database] section, and
    the API owns the registry: ``start`` starts it first unless running, ``cleanup``
    cleans both).
    """
    command = 'glance-api'

    def __init__(self, database_url: str | None = None, flavor: str = '',
                 overrides: dict | None = None, workers: int = 2,
                 registry: RegistryServer | None = None):
        super().__init__(workers)
        self.registry = registry
        self.owns_database = registry is None
        self.datadir = self.dir / 'images'
        sections = {
            'glance_store': {'stores': 'file,http', 'default_store': 'file',
                             'filesystem_store_datadir': self.datadir},
            'paste_deploy': {'flavor': flavor},
            'oslo_policy': {'enforce_scope': 'false'},
        }
        if registry:
            self.database_url = registry.database_url
            sections['DEFAULT'] = {'data_api': 'glint.db.registry.api',
                                   'registry_host': '127.0.0.1',
                                   'registry_port': registry.port}
        else:
            self.database_url = database_url or 'sqlite:///%s' % (self.dir / 'glance.sqlite')
            sections['database'] = {'connection': self.database_url}
        self._write_config(sections, overrides)

    def start(self) -> GlintServer:
        if self.registry and not self.registry.running:
            self.registry.start()
        return super().start()

    def cleanup(self) -> None:
        super().cleanup()
        if self.registry:
            self.registry.cleanup()
