"""molecule/keystone: glance-api (container glint-api) in front of glance-registry
(glint-registry, MariaDB), Keystone auth on both, notifications on RabbitMQ. The
scenario's names and ports come from its inventory (molecule.yml group_vars)."""

import json
import time

import glint_checks as check
import kombu
import pymysql
import pytest
import requests

API_PORT = 29292
REGISTRY_PORT = 29191
EXPECTED_EVENTS = {
    'image.create', 'image.prepare', 'image.upload', 'image.activate', 'image.delete'}


@pytest.fixture(scope='module')
def api(inventory_host):
    return inventory_host('glint-api')


@pytest.fixture(scope='module')
def registry(inventory_host):
    return inventory_host('glint-registry')


@pytest.fixture(scope='module')
def inv(api):
    """The scenario's own settings (group_vars all: plain values)."""
    return {k: v for k, v in api.ansible.get_variables().items() if k.startswith('glint_')}


@pytest.fixture(scope='module')
def admin(inv):
    """A requests session with an administrator's token for the shared Keystone."""
    creds = inv['glint_keystone_admin']
    default = {'name': 'Default'}
    user = {'name': creds['username'], 'domain': default, 'password': creds['password']}
    body = {'auth': {
        'identity': {'methods': ['password'], 'password': {'user': user}},
        'scope': {'project': {'name': creds['project_name'], 'domain': default}}}}
    response = requests.post(f"{inv['glint_keystone_url']}/auth/tokens", json=body, timeout=30)
    response.raise_for_status()
    session = requests.Session()
    session.headers['X-Auth-Token'] = response.headers['X-Subject-Token']
    return session


def test_each_service_runs_on_its_own_host(api, registry):
    check.unit_listens(api, 'glance-api', 'glance', API_PORT)
    check.unit_listens(registry, 'glance-registry', 'glance', REGISTRY_PORT)
    check.answers_healthcheck(api, API_PORT)
    check.answers_healthcheck(registry, REGISTRY_PORT)
    assert not api.file('/etc/systemd/system/glance-registry.service').exists
    assert not registry.file('/etc/systemd/system/glance-api.service').exists


def test_api_config(api, inv):
    check.has_mode(api, '/etc/glance/glance-api.conf', 'root', 'glance', 0o640)
    conf = check.read_ini(api, '/etc/glance/glance-api.conf')
    assert conf.get('DEFAULT', 'bind_port') == str(API_PORT)
    assert conf.get('DEFAULT', 'data_api') == 'glint.db.registry.api'
    assert conf.get('DEFAULT', 'registry_host') == '127.0.0.1'
    assert conf.get('DEFAULT', 'registry_port') == str(REGISTRY_PORT)
    assert conf.get('DEFAULT', 'transport_url') == 'rabbit://guest:guest@127.0.0.1:5672/'
    assert conf.get('paste_deploy', 'flavor') == 'keystone'
    assert conf.get('keystone_authtoken', 'username') == inv['glint_service_user']
    assert conf.get('keystone_authtoken', 'password') == inv['glint_service_password']
    assert conf.get('keystone_authtoken', 'region_name') == inv['glint_region']
    assert conf.get('oslo_messaging_notifications', 'driver') == 'messagingv2'
    assert conf.get('oslo_messaging_notifications', 'topics') == inv['glint_notification_topic']
    # The registry owns the database: nothing for glance-api to create here.
    assert not api.file('/var/lib/glance/glance.sqlite').exists


def test_registry_config(registry, inv):
    check.has_mode(registry, '/etc/glance/glance-registry.conf', 'root', 'glance', 0o640)
    conf = check.read_ini(registry, '/etc/glance/glance-registry.conf')
    assert conf.get('DEFAULT', 'bind_port') == str(REGISTRY_PORT)
    assert conf.get('database', 'connection') == (
        f"mysql+pymysql://{inv['glint_db_user']}:{inv['glint_db_password']}"
        f"@127.0.0.1:3306/{inv['glint_db_name']}?charset=utf8mb4")
    assert conf.get('paste_deploy', 'flavor') == 'keystone'
    assert conf.get('keystone_authtoken', 'username') == inv['glint_service_user']


def test_role_registered_user_service_and_endpoints(admin, inv):
    def get(path, key, **params):
        return admin.get(f"{inv['glint_keystone_url']}/{path}", params=params).json()[key]

    services = get('services', 'services', name=inv['glint_service_name'])
    assert [s['type'] for s in services] == ['image']
    endpoints = get('endpoints', 'endpoints', service_id=services[0]['id'])
    assert sorted((e['interface'], e['region_id'], e['url']) for e in endpoints) == [
        (interface, inv['glint_region'], f'http://127.0.0.1:{API_PORT}')
        for interface in ('admin', 'internal', 'public')]
    users = get('users', 'users', name=inv['glint_service_user'])
    assert len(users) == 1
    assignments = get('role_assignments', 'role_assignments',
                      include_names='true', **{'user.id': users[0]['id']})
    assert {(a['role']['name'], a['scope']['project']['name']) for a in assignments} == {
        ('admin', 'service'), ('service', 'service')}


def test_requests_without_a_token_are_refused():
    assert requests.get(f'http://127.0.0.1:{API_PORT}/v2/images', timeout=30).status_code == 401
    rpc = requests.post(f'http://127.0.0.1:{REGISTRY_PORT}/rpc',
                        json={'command': 'image_get_all', 'kwargs': {}}, timeout=30)
    assert rpc.status_code == 401


def test_image_up_down_and_gone(image_flow):
    image_flow.check()


def test_registry_wrote_the_image_to_mariadb(image_flow, inv):
    image_flow.check()
    db = pymysql.connect(host='127.0.0.1', port=3306, user=inv['glint_db_user'],
                         password=inv['glint_db_password'], database=inv['glint_db_name'])
    with db, db.cursor() as cursor:
        cursor.execute('SELECT status, size FROM images WHERE name = %s', (image_flow.image_name,))
        assert cursor.fetchall() == (('deleted', 5 * 1024 * 1024),)


def test_notifications_on_rabbitmq(image_flow, inv):
    """glance-api's notifications of the image flow reach RabbitMQ (messagingv2 envelopes
    on the queue <topic>.info, which oslo.messaging declares when it publishes)."""
    image_flow.check()
    queue = f"{inv['glint_notification_topic']}.info"
    seen = set()
    deadline = time.monotonic() + 30  # the notifier sends from a background thread
    with kombu.Connection('amqp://guest:guest@127.0.0.1:5672//') as connection:
        channel = connection.channel()
        while not EXPECTED_EVENTS <= seen and time.monotonic() < deadline:
            message = channel.basic_get(queue, no_ack=True)
            if message is None:
                time.sleep(0.5)
                continue
            event = json.loads(json.loads(message.body)['oslo.message'])
            if event['payload'].get('name') == image_flow.image_name:
                seen.add(event['event_type'])
    assert EXPECTED_EVENTS <= seen


def test_logs_free_of_tracebacks(api, registry, image_flow):
    check.no_tracebacks(api, 'glance-api', ['/var/log/glance/glance-api.log'])
    check.no_tracebacks(registry, 'glance-registry', ['/var/log/glance/glance-registry.log'])
