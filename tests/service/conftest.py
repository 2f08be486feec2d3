"""Fixtures: a real glance-api per data path and database back end, and clients for it.

Every test that uses ``server`` runs once per (mode, database), each server started once
per session:

- mode ``direct``: glance-api on the database itself, for every back end in
  GLINT_TEST_DATABASES (default: sqlite,mysql,postgresql);
- mode ``registry``: glance-api with ``data_api = glint.db.registry.api`` in front of a
  real glance-registry (own free port, no auth, loopback) that owns the database, for
  every back end in GLINT_TEST_REGISTRY_DATABASES (default: sqlite; the registry runs
  the same SQL code, so the other back ends add time, not coverage).

GLINT_TEST_MODES picks the modes (default: direct,registry). Test ids read
``[direct-sqlite]``, ``[registry-sqlite]``, ... MariaDB and PostgreSQL URLs come from
GLINT_TEST_MYSQL_URL / GLINT_TEST_POSTGRESQL_URL (defaults: the local servers, a fresh
database per session). A back end that cannot be reached fails the tests; it never skips.
"""
from __future__ import annotations

import os
import uuid

import pytest
import requests
import sqlalchemy as sa

from tests.service.server import GlintServer, RegistryServer, ServiceProcess

DATABASES = os.environ.get('GLINT_TEST_DATABASES', 'sqlite,mysql,postgresql').split(',')
REGISTRY_DATABASES = os.environ.get('GLINT_TEST_REGISTRY_DATABASES', 'sqlite').split(',')
MODES = os.environ.get('GLINT_TEST_MODES', 'direct,registry').split(',')
SERVER_PARAMS = [(mode, db) for mode, dbs in (('direct', DATABASES),
                                              ('registry', REGISTRY_DATABASES))
                 if mode in MODES for db in dbs]
SERVER_URLS = {
    'mysql': os.environ.get('GLINT_TEST_MYSQL_URL',
                            'mysql+pymysql://root@127.0.0.1:3306/?charset=utf8mb4'),
    'postgresql': os.environ.get('GLINT_TEST_POSTGRESQL_URL',
                                 'postgresql+psycopg://postgres@127.0.0.1:5432/postgres'),
}


def fresh_database(kind: str) -> tuple[str, callable]:
    """A new empty database on the server of ``kind``: (url, drop)."""
    if kind == 'sqlite':
        return None, lambda: None
    server = sa.make_url(SERVER_URLS[kind])
    name = 'glint_test_%s' % uuid.uuid4().hex[:10]
    admin = sa.create_engine(server, isolation_level='AUTOCOMMIT')
    with admin.connect() as conn:
        conn.exec_driver_sql('CREATE DATABASE %s' % name)

    def drop():
        with admin.connect() as conn:
            if kind == 'postgresql':
                conn.exec_driver_sql('DROP DATABASE %s WITH (FORCE)' % name)
            else:
                conn.exec_driver_sql('DROP DATABASE %s' % name)
        admin.dispose()
    return server.set(database=name).render_as_string(hide_password=False), drop


@pytest.fixture(scope='session', params=SERVER_PARAMS, ids='-'.join)
def server(request):
    """A running no-auth glance-api on one database back end, directly or through a
    glance-registry."""
    mode, kind = request.param
    url, drop = fresh_database(kind)
    registry = RegistryServer(url) if mode == 'registry' else None
    with GlintServer(url, registry=registry) as srv:
        srv.mode, srv.kind = mode, kind
        yield srv
    drop()


@pytest.fixture
def api(server):
    """A requests session bound to the server, acting as the no-auth admin."""
    return Client(server.url)


class Client(requests.Session):
    """requests with the server URL as base and optional X-* identity headers."""

    def __init__(self, base: str, project: str | None = None,
                 roles: str = 'reader,member', user: str | None = None):
        super().__init__()
        self.base = base
        if project is not None:
            self.headers.update({'X-Project-Id': project, 'X-Roles': roles,
                                 'X-User-Id': user or 'user-' + project})

    def request(self, method, url, *args, **kwargs):
        return super().request(method, self.base + url, *args, **kwargs)

    def create(self, **body) -> dict:
        body.setdefault('disk_format', 'raw')
        body.setdefault('container_format', 'bare')
        resp = self.post('/v2/images', json=body)
        assert resp.status_code == 201, resp.text
        return resp.json()

    def upload(self, image_id: str, data: bytes, **headers) -> requests.Response:
        headers.setdefault('Content-Type', 'application/octet-stream')
        return self.put('/v2/images/%s/file' % image_id, data=data, headers=headers)


@pytest.fixture(autouse=True)
def no_server_errors(request, monkeypatch):
    """Every test: no response of a Client is a 5xx (a client's mistake is always a
    4xx), and no running glance-api or glance-registry logged an ERROR meanwhile (which
    also covers raw sockets, the real clients and failures after the response). A test
    that provokes server errors on purpose says so with @pytest.mark.server_errors."""
    if request.node.get_closest_marker('server_errors'):
        yield
        return
    original = Client.request
    seen: list[str] = []

    def record(self, method, url, *args, **kwargs):
        resp = original(self, method, url, *args, **kwargs)
        if resp.status_code >= 500:
            seen.append('%s %s -> %d %s' % (method, url, resp.status_code, resp.text))
        return resp

    monkeypatch.setattr(Client, 'request', record)
    offsets = {id(srv): srv.log_size() for srv in ServiceProcess.live}
    yield
    assert not seen, 'server errors:\n' + '\n'.join(seen)
    for srv in ServiceProcess.live:
        errors = [line for line in srv.log_since(offsets.get(id(srv), 0)).splitlines()
                  if ' ERROR ' in line]
        assert not errors, '%s logged errors:\n%s' % (srv.command, '\n'.join(errors))


@pytest.fixture
def as_project(server):
    """as_project('alpha', roles='reader') -> a Client acting inside that project."""
    return lambda project, roles='reader,member': Client(server.url, project, roles)
