"""glance-registry: the API in front of it when it fails, its RPC, its authentication
and its refusal to serve an unauthenticated database beyond loopback.

The whole API suite also runs through a registry (the ``registry`` mode of the
``server`` fixture); these tests cover what only the registry path has.
"""
from __future__ import annotations

import signal
import subprocess
import time

import pytest
import requests

from tests.infra import keystone
from tests.service.conftest import Client
from tests.service.server import GlintServer, RegistryServer


@pytest.fixture(scope='module')
def pair():
    """A no-auth glance-registry (SQLite) and a glance-api in front of it that waits at
    most 3 s for an answer."""
    with GlintServer(registry=RegistryServer(),
                     overrides={'DEFAULT': {'registry_client_timeout': 3}}) as api:
        yield api


def rpc(registry: RegistryServer, body, token: str | None = None) -> requests.Response:
    headers = {'X-Auth-Token': token} if token else {}
    return requests.post(registry.url + '/rpc', json=body, headers=headers, timeout=30)


def image_ids(client: Client) -> set[str]:
    resp = client.get('/v2/images')
    assert resp.status_code == 200, resp.text
    return {image['id'] for image in resp.json()['images']}


@pytest.mark.server_errors('503 while the registry is away, on purpose')
def test_the_api_answers_503_while_the_registry_is_down_and_recovers(pair):
    client = Client(pair.url)
    image = client.create(name='before-outage')
    pair.registry.stop()
    try:
        for resp in (client.get('/v2/images'), client.get('/v2/images/' + image['id']),
                     client.post('/v2/images', json={'name': 'during-outage'})):
            assert resp.status_code == 503, resp.text
    finally:
        pair.registry.start()
    # The same API processes, no restart: the pool reconnects by itself.
    assert image['id'] in image_ids(client)
    after = client.create(name='after-outage')
    assert {image['id'], after['id']} <= image_ids(client)
    names = {i['name'] for i in client.get('/v2/images').json()['images']}
    assert 'during-outage' not in names


@pytest.mark.server_errors('503 while the registry is away, on purpose')
def test_a_registry_that_does_not_answer_is_503_after_the_timeout(pair):
    client = Client(pair.url)
    image = client.create(name='before-hang')
    pair.registry.signal(signal.SIGSTOP)
    try:
        started = time.monotonic()
        assert client.get('/v2/images/' + image['id']).status_code == 503
        assert time.monotonic() - started < 20         # registry_client_timeout = 3
    finally:
        pair.registry.signal(signal.SIGCONT)
    assert client.get('/v2/images/' + image['id']).status_code == 200


@pytest.mark.parametrize('body', [
    {'command': 'no_such_command'},
    {'command': '__init__'},                   # not a method of the interface
    {'command': '_write'},                     # a private method of the SQL implementation
    {'command': 'engine'},                     # an attribute of it
    {'command': ['image_get']},
    {'kwargs': {}},
    {'command': 'image_get', 'kwargs': {'image_id': 'x', 'extra': 1}},
    {'command': 'image_list', 'kwargs': {'query': {'$eval': 'anything'}}},
    [],
])
def test_the_rpc_refuses_what_is_not_a_call_of_the_interface(pair, body):
    resp = rpc(pair.registry, body)
    assert resp.status_code == 400, resp.text
    assert resp.json()['error']['type'] == 'BadRequest'


def test_the_rpc_speaks_json_with_typed_errors(pair):
    registry = pair.registry
    missing = rpc(registry, {'command': 'image_get', 'kwargs': {'image_id': 'nope'}})
    assert missing.status_code == 404
    assert missing.json()['error'] == {'type': 'NotFound',
                                       'message': 'No image found with ID nope'}
    counted = rpc(registry, {'command': 'image_count', 'kwargs': {'owner': None}})
    assert counted.status_code == 200 and isinstance(counted.json()['result'], int)
    assert requests.get(registry.url + '/rpc').status_code == 405
    assert requests.post(registry.url + '/other').status_code == 404
    assert requests.post(registry.url + '/rpc', data=b'{not json').status_code == 400
    assert requests.get(registry.url + '/healthcheck').status_code == 200


def _run(registry: RegistryServer) -> subprocess.CompletedProcess:
    return subprocess.run(registry.argv(), capture_output=True, text=True, timeout=60)


def test_a_registry_without_auth_refuses_to_listen_beyond_loopback():
    registry = RegistryServer(overrides={'DEFAULT': {'bind_host': '0.0.0.0'}})
    try:
        done = _run(registry)
        assert done.returncode != 0
        assert 'allow_insecure_registry_bind' in done.stderr
    finally:
        registry.cleanup()


def test_allow_insecure_registry_bind_lets_it_listen_everywhere():
    with RegistryServer(overrides={'DEFAULT': {
            'bind_host': '0.0.0.0', 'allow_insecure_registry_bind': 'true'}}) as registry:
        assert registry.running


# -- keystone flavor ------------------------------------------------------------------
@pytest.fixture(scope='module')
def keystone_pair():
    """glance-api and glance-registry, both keystone-flavored, as the glance service
    user (roles admin and service in project service)."""
    keystone.ensure_running()
    auth = {'keystone_authtoken': keystone.authtoken_options()}
    registry = RegistryServer(flavor='keystone', overrides=auth)
    with GlintServer(flavor='keystone', overrides=auth, registry=registry) as api:
        yield api


def token_of(user: str) -> str:
    password, project, _ = keystone.USERS[user]
    return keystone.get_token(user, password, project)[0]


def test_the_api_works_through_a_keystone_registry(keystone_pair):
    member = Client(keystone_pair.url)
    member.headers['X-Auth-Token'] = token_of('alpha-member')
    image = member.create(name='through-keystone-registry', visibility='private')
    assert member.upload(image['id'], b'x' * 100).status_code == 204
    assert image['id'] in image_ids(member)
    assert member.get('/v2/images/%s/file' % image['id']).content == b'x' * 100
    other = Client(keystone_pair.url)
    other.headers['X-Auth-Token'] = token_of('beta-member')
    assert other.get('/v2/images/' + image['id']).status_code == 404
    assert member.delete('/v2/images/' + image['id']).status_code == 204


def test_a_keystone_registry_lets_only_services_and_admins_call(keystone_pair):
    registry = keystone_pair.registry
    body = {'command': 'image_count', 'kwargs': {'owner': None}}
    assert rpc(registry, body).status_code == 401
    assert rpc(registry, body, token='not-a-token').status_code == 401
    assert rpc(registry, body, token=token_of('alpha-member')).status_code == 403
    service, _ = keystone.get_token(keystone.SERVICE_USER, keystone.SERVICE_PASSWORD,
                                    keystone.SERVICE_PROJECT)
    assert rpc(registry, body, token=service).status_code == 200
    assert requests.get(registry.url + '/healthcheck').status_code == 200
