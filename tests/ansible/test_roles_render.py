"""The files the roles write, rendered by real ansible-playbook runs into a temporary
directory (nothing touches the host): glance-api.conf from the glance_api variables and
overrides (the older guides' names included), the glance_store drop-in, and the
reproducible source archive that makes the install idempotent."""
from __future__ import annotations

import configparser
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
MULTI_HOST = ROOT / 'inventories' / 'multi-host' / 'group_vars'

# Defaults, then the scenario's variables, then the role's own vars/main.yml (internal
# names only), as the role sees them; the file is written by the role's own task (a copy
# whose content is the glint.glance.oslo_ini filter over the role's sections), found in its
# tasks. ansible.cfg makes the filters of this checkout the collection glint.glance.
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  vars:
    role_path: {role_path}
  vars_files:
    - {role_path}/defaults/main.yml
{extra}
    - {role_path}/vars/main.yml
  tasks:
    - ansible.builtin.copy:
        content: {content}
        dest: {dest}
        mode: "0600"
      vars: {task_vars}
    - ansible.builtin.copy:
        content: "{{{{ {{'no_log': {no_log}}} | to_json }}}}"
        dest: {dest}.json
        mode: "0600"
"""


def conf_task(role: str) -> dict:
    """The task of the role that writes its configuration file with oslo_ini."""
    for tasks_file in (ROOT / 'roles' / role / 'tasks').glob('*.yml'):
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            copy = task.get('ansible.builtin.copy') or {}
            if 'glint.glance.oslo_ini' in str(copy.get('content', '')):
                return task
    raise AssertionError('%s writes no file with glint.glance.oslo_ini' % role)


def render(tmp_path: Path, role: str, *var_files: Path, variables: dict | None = None,
           no_log: str = 'false', inventory: str = 'localhost,') -> tuple[str, dict]:
    """The role's configuration file and {'no_log': the role's no_log decision}."""
    files = list(var_files)
    if variables is not None:
        files.append(tmp_path / 'vars.yml')
        files[-1].write_text(yaml.safe_dump(variables))
    dest = tmp_path / 'out.conf'
    playbook = tmp_path / 'render.yml'
    role_path = ROOT / 'roles' / role
    task = conf_task(role)
    playbook.write_text(PLAYBOOK.format(
        role_path=role_path, dest=dest, no_log=no_log, task_vars=json.dumps(task.get('vars', {})),
        content=json.dumps(task['ansible.builtin.copy']['content']),
        extra='\n'.join('    - %s' % f for f in files)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(
        [str(BIN / 'ansible-playbook'), '-i', inventory, '-c', 'local',
         '-e', 'ansible_python_interpreter=%s' % sys.executable, str(playbook)],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return dest.read_text(), json.loads((tmp_path / 'out.conf.json').read_text())


def parse(text: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, default_section='-')   # DEFAULT as it is
    parser.optionxform = str
    parser.read_string(text)
    return parser


def api_conf(tmp_path: Path, *var_files: Path, inventory: str = 'localhost,', **variables):
    """glance-api.conf parsed, and whether the role would hide it (no_log)."""
    text, meta = render(tmp_path, 'glance_api', *var_files, variables=variables,
                        no_log='glance_api_no_log', inventory=inventory)
    return parse(text), meta['no_log']


def registry_conf(tmp_path: Path, *var_files: Path, **variables):
    """glance-registry.conf parsed, and whether the role would hide it (no_log)."""
    text, meta = render(tmp_path, 'glance_registry', *var_files, variables=variables,
                        no_log='glance_registry_no_log')
    return parse(text), meta['no_log']


def test_defaults_are_the_embedded_single_host(tmp_path):
    conf, no_log = api_conf(tmp_path)
    assert conf['DEFAULT']['bind_host'] == '127.0.0.1'
    assert conf['DEFAULT']['bind_port'] == '9292'
    assert 'workers' not in conf['DEFAULT']           # null: one worker per CPU
    assert 'transport_url' not in conf['DEFAULT']
    assert conf['database']['connection'] == 'sqlite:////var/lib/glance/glance.sqlite'
    assert conf['paste_deploy']['flavor'] == ''
    assert conf['oslo_messaging_notifications']['driver'] == 'noop'
    assert conf['oslo_policy']['policy_file'] == '/etc/glance/policy.yaml'
    assert not conf.has_section('keystone_authtoken')
    assert not conf.has_section('glance_store')       # the glance_store role's drop-in
    assert no_log is False


def test_multi_host_example(tmp_path):
    conf, no_log = api_conf(tmp_path, MULTI_HOST / 'all' / 'main.yml',
                            MULTI_HOST / 'all' / 'vault.yml', MULTI_HOST / 'glance_api.yml')
    auth = conf['keystone_authtoken']
    assert conf['paste_deploy']['flavor'] == 'keystone'
    assert auth['www_authenticate_uri'] == auth['auth_url'] == 'http://keystone.example.net:5000'
    assert (auth['username'], auth['password'], auth['project_name']) == (
        'glance', 'change-me-keystone', 'service')
    assert auth['memcached_servers'] == 'memcached.example.net:11211'
    assert conf['DEFAULT']['transport_url'].startswith('rabbit://glance:change-me-rabbit@rabbit1')
    assert conf['oslo_policy']['enforce_scope'] == 'true'
    assert no_log is True                             # passwords in the file

    registry, no_log = registry_conf(tmp_path, MULTI_HOST / 'all' / 'main.yml',
                                     MULTI_HOST / 'all' / 'vault.yml',
                                     MULTI_HOST / 'glance_registry.yml')
    assert registry['database']['connection'].startswith('mysql+pymysql://glance:change-me-db@')
    assert registry['paste_deploy']['flavor'] == 'keystone'
    assert registry['keystone_authtoken']['password'] == 'change-me-keystone'
    assert (registry['DEFAULT']['bind_host'], registry['DEFAULT']['workers']) == ('0.0.0.0', '2')
    assert no_log is True


def test_registry_defaults_are_the_single_host(tmp_path):
    conf, no_log = registry_conf(tmp_path)
    assert dict(conf['DEFAULT']) == {'bind_host': '127.0.0.1', 'bind_port': '9191',
                                     'debug': 'false',
                                     'log_file': '/var/log/glance/glance-registry.log'}
    assert conf['database']['connection'] == 'sqlite:////var/lib/glance/glance.sqlite'
    assert conf['paste_deploy']['flavor'] == ''
    assert conf['oslo_policy']['policy_file'] == '/etc/glance/glance-registry-policy.yaml'
    assert not conf.has_section('keystone_authtoken')
    assert no_log is False


def test_api_goes_through_the_registry_group(tmp_path):
    inventory = tmp_path / 'hosts.ini'
    inventory.write_text('localhost\n[glance_registry]\nregistry1 ansible_host=192.0.2.7\n')
    conf, _ = api_conf(tmp_path, inventory=str(inventory))
    assert conf['DEFAULT']['data_api'] == 'glint.db.registry.api'
    assert (conf['DEFAULT']['registry_host'], conf['DEFAULT']['registry_port']) == (
        '192.0.2.7', '9191')
    conf, _ = api_conf(tmp_path)
    assert conf['DEFAULT']['data_api'] == 'glint.db.sqlalchemy.api'
    assert 'registry_host' not in conf['DEFAULT']


def test_older_guides_inputs_in_overrides_are_mapped(tmp_path):
    conf, no_log = api_conf(tmp_path, glance_api_conf_overrides={
        'DEFAULT': {'rabbit_host': 'rabbit.example.net', 'rabbit_userid': 'openstack',
                    'rabbit_password': 'p@ss/word:1', 'notification_driver': 'messagingv2',
                    'sql_connection': 'mysql+pymysql://glance:x@db/glance'},
        'oslo_messaging_rabbit': {'rabbit_virtual_host': 'openstack', 'rabbit_ha_queues': True},
        'paste_deploy': {'flavor': 'keystone'},
        'keystone_authtoken': {'auth_uri': 'http://ks:5000/v2.0', 'identity_uri': 'http://ks:35357',
                               'admin_user': 'glance', 'admin_password': 'secret',
                               'admin_tenant_name': 'services'}})
    assert conf['DEFAULT']['transport_url'] == (
        'rabbit://openstack:p%40ss%2Fword%3A1@rabbit.example.net:5672/openstack')
    assert conf['oslo_messaging_notifications']['driver'] == 'messagingv2'
    assert conf['database']['connection'] == 'mysql+pymysql://glance:x@db/glance'
    assert dict(conf['oslo_messaging_rabbit']) == {'rabbit_ha_queues': 'true'}
    auth = conf['keystone_authtoken']
    assert (auth['www_authenticate_uri'], auth['auth_url'], auth['auth_type']) == (
        'http://ks:5000/v2.0', 'http://ks:35357/v3', 'password')   # v3, as the service reads it
    assert (auth['username'], auth['password'], auth['project_name']) == (
        'glance', 'secret', 'services')
    for section, option in [('DEFAULT', 'rabbit_host'), ('DEFAULT', 'notification_driver'),
                            ('DEFAULT', 'sql_connection'), ('keystone_authtoken', 'admin_user'),
                            ('keystone_authtoken', 'auth_uri')]:
        assert not conf.has_option(section, option), (section, option)
    assert no_log is True


def test_older_guides_role_variables_are_mapped(tmp_path):
    conf, _ = api_conf(tmp_path, glance_api_flavor='keystone',
                    glance_api_notification_driver='messagingv2',
                    glance_api_rabbit_hosts=['r1', 'r2:5673', '[fd00::1]'],
                    glance_api_rabbit_userid='glance', glance_api_rabbit_password='pw',
                    glance_api_keystone_auth_uri='http://ks:5000',
                    glance_api_keystone_identity_uri='http://ks:35357',
                    glance_api_keystone_admin_user='glance2',
                    glance_api_keystone_admin_password='pw2',
                    glance_api_keystone_admin_tenant_name='service2')
    assert conf['DEFAULT']['transport_url'] == (
        'rabbit://glance:pw@r1:5672,glance:pw@r2:5673,glance:pw@[fd00::1]:5672/')
    auth = conf['keystone_authtoken']
    assert (auth['www_authenticate_uri'], auth['auth_url']) == ('http://ks:5000', 'http://ks:35357/v3')
    assert (auth['username'], auth['password'], auth['project_name']) == (
        'glance2', 'pw2', 'service2')


def test_no_transport_url_without_notifications(tmp_path):
    # Glint loads oslo.messaging only for a notification driver: it would ignore these.
    conf, _ = api_conf(tmp_path, glance_api_transport_url='rabbit://glance:pw@r1:5672/',
                       glance_api_oslo_messaging_rabbit={'rabbit_quorum_queue': True})
    assert conf['oslo_messaging_notifications']['driver'] == 'noop'
    assert 'transport_url' not in conf['DEFAULT']
    assert not conf.has_section('oslo_messaging_rabbit')


def test_overrides_deep_merge_and_null_removes(tmp_path):
    conf, _ = api_conf(tmp_path, glance_api_workers=3, glance_api_conf_overrides={
        'DEFAULT': {'hashing_algorithm': 'sha256', 'log_file': None,
                    'enabled_import_methods': ['glance-direct', 'web-download']},
        'cors': {'allowed_origin': 'https://a.example'},
        'glance_store': {'filesystem_store_datadir': '/srv/x'}})
    assert conf['DEFAULT']['workers'] == '3'
    assert conf['DEFAULT']['hashing_algorithm'] == 'sha256'
    assert conf['DEFAULT']['bind_port'] == '9292'     # merged, not replaced
    assert 'log_file' not in conf['DEFAULT']
    assert conf['DEFAULT']['enabled_import_methods'] == 'glance-direct,web-download'
    assert conf['cors']['allowed_origin'] == 'https://a.example'
    assert conf['glance_store']['filesystem_store_datadir'] == '/srv/x'


def test_store_drop_in_single_store(tmp_path):
    text, _ = render(tmp_path, 'glance_store', variables={
        'glance_store_filesystem_store_datadirs': ['/srv/a:200', '/srv/b:100'],
        'glance_store_options': {'https_insecure': False}})
    body = [line for line in text.splitlines() if line and not line.startswith('#')]
    assert body == ['[glance_store]', 'stores = file,http', 'default_store = file',
                    'filesystem_store_datadirs = /srv/a:200',
                    'filesystem_store_datadirs = /srv/b:100', 'https_insecure = false']


@pytest.fixture
def source(tmp_path):
    src = tmp_path / 'src'
    (src / 'pkg' / '__pycache__').mkdir(parents=True)
    (src / 'pyproject.toml').write_text('[project]\nname = "x"\n')
    (src / 'pkg' / '__init__.py').write_text('X = 1\n')
    (src / 'pkg' / '__pycache__' / 'm.cpython-311.pyc').write_bytes(b'\0')
    (src / 'x.egg-info').mkdir()
    (src / 'x.egg-info' / 'PKG-INFO').write_text('Name: x\n')
    return src


def pack(src: Path, dest: Path) -> dict:
    script = ROOT / 'roles' / 'glint_service' / 'files' / 'pack_source.py'
    out = subprocess.run([sys.executable, str(script), str(src), str(dest)],
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def test_source_archive_is_reproducible(tmp_path, source):
    first = pack(source, tmp_path / 'a.tar.gz')
    os.utime(source / 'pkg' / '__init__.py', (1, 1))     # times do not matter
    (source / 'pkg' / '__pycache__' / 'm.cpython-311.pyc').write_bytes(b'\1')
    again = pack(source, tmp_path / 'a.tar.gz')
    assert again == dict(first, written=False)
    with tarfile.open(tmp_path / 'a.tar.gz') as tar:
        assert sorted(tar.getnames()) == ['glint-src/pkg/__init__.py', 'glint-src/pyproject.toml']
    (source / 'pkg' / '__init__.py').write_text('X = 2\n')
    assert pack(source, tmp_path / 'a.tar.gz')['sha256'] != first['sha256']


def test_bundled_paste_file_exists():
    # glance_api_paste_ini_src's default, relative to the role as in an installed collection.
    defaults = (ROOT / 'roles' / 'glance_api' / 'defaults' / 'main.yml').read_text()
    assert '{{ role_path }}/../../service/glint/etc/glance-api-paste.ini' in defaults
    assert (ROOT / 'service' / 'glint' / 'etc' / 'glance-api-paste.ini').is_file()
