"""The glance_api role's Keystone registration against the real Keystone of tests/infra:
the first run creates the service user, its roles, the image service and its three
endpoints; the second changes nothing; --check predicts nothing either. A service name
and user of the test's own keep it apart from the fixtures the service suites use."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import openstack
import pytest

from tests.infra import keystone

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.include_role:
        name: glance_api
        tasks_from: keystone.yml
      vars: {variables}
"""


@pytest.fixture(scope='module')
def admin():
    keystone.ensure_running()
    conn = openstack.connect(
        auth_url=keystone.KEYSTONE_URL, username=keystone.ADMIN_USER,
        password=keystone.ADMIN_PASSWORD, project_name=keystone.ADMIN_PROJECT,
        user_domain_name=keystone.DOMAIN, project_domain_name=keystone.DOMAIN,
        region_name=keystone.REGION)
    yield conn
    conn.close()


@pytest.fixture
def registration(tmp_path, admin):
    suffix = uuid.uuid4().hex[:8]
    names = {'user': 'glance-' + suffix, 'service': 'image-' + suffix,
             'project': 'service-' + suffix}
    variables = {
        'glance_api_flavor': 'keystone',
        'glance_api_keystone_register': True,
        'glance_api_keystone_register_auth': {
            'auth_url': keystone.KEYSTONE_URL, 'username': keystone.ADMIN_USER,
            'password': keystone.ADMIN_PASSWORD, 'project_name': keystone.ADMIN_PROJECT,
            'user_domain_name': keystone.DOMAIN, 'project_domain_name': keystone.DOMAIN},
        'glance_api_keystone_username': names['user'],
        'glance_api_keystone_password': 'secret-' + suffix,
        'glance_api_keystone_project_name': names['project'],
        'glance_api_keystone_service_name': names['service'],
        'glance_api_bind_port': 19999,
        'glance_api_keystone_internal_url': 'http://internal.example.net:9292',
    }
    playbook = tmp_path / 'register.yml'
    playbook.write_text(PLAYBOOK.format(variables=json.dumps(variables)))
    yield playbook, names
    for endpoint in admin.identity.endpoints():
        service = admin.identity.find_service(names['service'])
        if service and endpoint.service_id == service.id:
            admin.identity.delete_endpoint(endpoint)
    for kind in ('service', 'user', 'project'):
        found = getattr(admin.identity, 'find_' + kind)(names[kind])
        if found:
            getattr(admin.identity, 'delete_' + kind)(found)


def run(playbook: Path, *args: str) -> int:
    """ansible-playbook on this host; the number of changed tasks."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    inventory = playbook.parent / 'hosts.ini'   # not -e: the role sets the interpreter per task
    inventory.write_text('localhost ansible_connection=local ansible_python_interpreter=%s\n'
                         % sys.executable)
    result = subprocess.run(
        [str(BIN / 'ansible-playbook'), '-i', str(inventory), str(playbook), *args],
        capture_output=True, text=True, env=env, cwd=playbook.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    recap = result.stdout[result.stdout.index('PLAY RECAP'):]
    return int(recap.split('changed=')[1].split()[0])


def test_registration_creates_then_changes_nothing(registration, admin):
    playbook, names = registration
    assert run(playbook, '--check') > 0
    assert admin.identity.find_user(names['user']) is None      # check mode made nothing

    assert run(playbook) > 0
    service = admin.identity.find_service(names['service'])
    assert service.type == 'image'
    endpoints = {e.interface: e.url for e in admin.identity.endpoints(service_id=service.id)}
    assert endpoints == {'public': 'http://127.0.0.1:19999',
                         'internal': 'http://internal.example.net:9292',
                         'admin': 'http://127.0.0.1:19999'}
    # The user authenticates with the password [keystone_authtoken] gets, roles in place.
    _, body = keystone.authenticate(names['user'], 'secret-' + names['user'][7:],
                                        names['project'])
    assert {role['name'] for role in body['roles']} >= {'admin', 'service'}

    assert run(playbook) == 0
    assert run(playbook, '--check') == 0
