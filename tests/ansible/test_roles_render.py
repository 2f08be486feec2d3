"""The files the roles write, rendered by real ansible-playbook runs into a temporary
directory (nothing touches the host): glance-api.conf from the glance_api variables and
overrides (the older guides' names included), the glance_store drop-in, and the
reproducible source archive that makes the install idempotent."""
from __future__ import annotations

import configparser
import json
import os
import re
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


# --- glance_store: multi-store, rbd and s3, the Ceph client's files, the prechecks --------

def store_conf(tmp_path: Path, **variables):
    """The drop-in parsed, and the no_log decision of the role's own task."""
    task = conf_task('glance_store')
    text, meta = render(tmp_path, 'glance_store', variables=variables,
                        no_log=task['no_log'].strip('{} '))
    return parse(text), meta['no_log'], text


S3_OPTIONS = {'s3_store_host': 'http://s3.example.net:8080', 's3_store_access_key': 'AK',
              's3_store_secret_key': 'S3cr$t', 's3_store_bucket': 'images'}


def test_store_drop_in_multi_store(tmp_path):
    conf, no_log, text = store_conf(
        tmp_path, glance_store_default_backend='ceph', glance_store_backends={
            'fast': {'type': 'file', 'filesystem_store_datadirs': ['/srv/a:200', '/srv/b:100'],
                     'store_description': 'Local disk', 'weight': 100},
            'ceph': {'type': 'rbd', 'rbd_store_chunk_size': 4},
            'objects': dict(S3_OPTIONS, type='s3'),
            'web': {'type': 'http'}},
        glance_store_conf_overrides={'objects': {'s3_store_thread_pools': 4}})
    assert conf.sections()[:2] == ['DEFAULT', 'glance_store']
    assert sorted(conf['DEFAULT']['enabled_backends'].split(',')) == [
        'ceph:rbd', 'fast:file', 'objects:s3', 'web:http']
    assert dict(conf['glance_store']) == {'default_backend': 'ceph'}
    assert dict(conf['ceph']) == {'rbd_store_pool': 'images', 'rbd_store_user': 'glance',
                                  'rbd_store_ceph_conf': '/etc/ceph/ceph.conf',
                                  'rbd_store_chunk_size': '4'}
    assert ('filesystem_store_datadirs = /srv/a:200\n'
            'filesystem_store_datadirs = /srv/b:100\n') in text
    assert (conf['fast']['store_description'], conf['fast']['weight']) == ('Local disk', '100')
    assert conf['objects']['s3_store_secret_key'] == 'S3cr$$t'     # oslo.config reads one $
    assert conf['objects']['s3_store_thread_pools'] == '4'
    assert 'type' not in text.replace('types', '')
    assert not conf.has_section('web')                 # no option: nothing to write
    assert no_log is True                              # the S3 secret key


def test_store_drop_in_one_backend_is_the_default(tmp_path):
    conf, no_log, _ = store_conf(tmp_path, glance_store_backends={
        'ceph': {'type': 'rbd', 'rbd_store_pool': 'glance-images', 'rbd_store_user': 'img'}})
    assert dict(conf['glance_store']) == {'default_backend': 'ceph'}
    assert (conf['ceph']['rbd_store_pool'], conf['ceph']['rbd_store_user']) == (
        'glance-images', 'img')
    assert no_log is False


def test_store_drop_in_single_store_rbd_and_s3(tmp_path):
    conf, no_log, _ = store_conf(tmp_path, glance_store_stores=['rbd', 's3', 'http'],
                                 glance_store_default_store='rbd',
                                 glance_store_ceph_user='images',
                                 glance_store_options=S3_OPTIONS)
    assert list(conf['glance_store'])[:2] == ['stores', 'default_store']
    assert conf['glance_store']['stores'] == 'rbd,s3,http'
    assert conf['glance_store']['rbd_store_user'] == 'images'
    assert conf['glance_store']['s3_store_bucket'] == 'images'
    assert not any(o.startswith('filesystem_') for o in conf['glance_store'])  # no file store
    assert not conf.has_option('DEFAULT', 'enabled_backends')
    assert no_log is True


def role_task(role: str, name: str) -> dict:
    for tasks_file in (ROOT / 'roles' / role / 'tasks').glob('*.yml'):
        for task in yaml.safe_load(tasks_file.read_text()) or []:
            if task.get('name') == name:
                return task
    raise AssertionError('%s has no task %r' % (role, name))


TASK_FIELDS = """
- hosts: localhost
  gather_facts: false
  vars:
    role_path: {role_path}
  vars_files:
    - {role_path}/defaults/main.yml
    - {variables}
    - {role_path}/vars/main.yml
  tasks:
    - ansible.builtin.copy:
        content: "{{{{ fields | to_json }}}}"
        dest: {dest}
        mode: "0600"
      vars:
        fields: {fields}
"""


def task_fields(tmp_path: Path, role: str, name: str, **variables) -> dict:
    """The copy arguments, no_log and when of the role's task NAME, as the role evaluates them."""
    task = role_task(role, name)
    copy = task['ansible.builtin.copy']
    fields = {k: copy[k] for k in ('content', 'dest', 'owner', 'group', 'mode')}
    fields['no_log'] = task.get('no_log', False)
    fields['when'] = '{{ %s }}' % task['when'] if 'when' in task else True
    (tmp_path / 'vars.yml').write_text(yaml.safe_dump(variables))
    dest = tmp_path / 'fields.json'
    (tmp_path / 'fields.yml').write_text(TASK_FIELDS.format(
        role_path=ROOT / 'roles' / role, variables=tmp_path / 'vars.yml', dest=dest,
        fields=json.dumps(fields)))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run(
        [str(BIN / 'ansible-playbook'), '-i', 'localhost,', '-c', 'local',
         '-e', 'ansible_python_interpreter=%s' % sys.executable, str(tmp_path / 'fields.yml')],
        capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    return json.loads(dest.read_text())


KEY = 'AQBSdFtbAAAAABAAL0yF+Y4wZ1aAL2pHxnAxEA=='


def test_ceph_files_from_variables(tmp_path):
    given = {'glance_store_backends': {'ceph': {'type': 'rbd'}},
             'glance_store_ceph_fsid': '0c5f7f5e-5b2b-4a7c-9d51-9ad6b7c3b1f2',
             'glance_store_ceph_mon_host': ['[v2:10.0.0.1:3300,v1:10.0.0.1:6789]', '10.0.0.2'],
             'glance_store_ceph_keyring': KEY}
    conf = task_fields(tmp_path, 'glance_store', 'Write ceph.conf', **given)
    assert conf['content'].splitlines()[1:] == [
        '[global]', 'fsid = 0c5f7f5e-5b2b-4a7c-9d51-9ad6b7c3b1f2',
        'mon_host = [v2:10.0.0.1:3300,v1:10.0.0.1:6789],10.0.0.2']
    assert (conf['dest'], conf['owner'], conf['group'], conf['mode']) == (
        '/etc/ceph/ceph.conf', 'root', 'root', '0644')
    assert (conf['no_log'], conf['when']) == (False, True)
    keyring = task_fields(tmp_path, 'glance_store', 'Write the keyring of the Ceph client', **given)
    assert keyring['content'] == '[client.glance]\n\tkey = %s\n' % KEY
    assert (keyring['dest'], keyring['owner'], keyring['group'], keyring['mode']) == (
        '/etc/ceph/ceph.client.glance.keyring', 'root', 'glance', '0640')
    assert (keyring['no_log'], keyring['when']) == (True, True)


def test_ceph_conf_given_whole_and_another_user(tmp_path):
    text = '[global]\nfsid = x\nmon_host = 10.0.0.1\n[client]\nrbd_cache = true'
    given = {'glance_store_stores': ['rbd'], 'glance_store_default_store': 'rbd',
             'glance_store_ceph_conf': text, 'glance_store_ceph_user': 'images',
             'glance_store_ceph_keyring': KEY}
    conf = task_fields(tmp_path, 'glance_store', 'Write ceph.conf', **given)
    assert conf['content'] == text + '\n'
    keyring = task_fields(tmp_path, 'glance_store', 'Write the keyring of the Ceph client', **given)
    assert keyring['dest'] == '/etc/ceph/ceph.client.images.keyring'
    assert keyring['content'].startswith('[client.images]\n')
    # An rbd store with a ceph.conf and user of its own: the role writes neither file.
    given['glance_store_options'] = {'rbd_store_ceph_conf': '/etc/ceph/other.conf',
                                     'rbd_store_user': 'other'}
    assert task_fields(tmp_path, 'glance_store', 'Write ceph.conf', **given)['when'] is False
    assert task_fields(tmp_path, 'glance_store', 'Write the keyring of the Ceph client',
                       **given)['when'] is False


# Each case a host of one playbook run: the role's precheck.yml with the case's variables,
# its failure message (or "passed") written beside them. The cases of the Ceph admin host
# (tasks run once per play) have a play of their own.
PRECHECK = """
- hosts: {hosts}
  gather_facts: true
  gather_subset: [min]
  vars:
    role_path: {role_path}
  vars_files:
    - {role_path}/defaults/main.yml
    - {role_path}/vars/main.yml
  tasks:
    - ansible.builtin.include_vars:
        file: "{{{{ cases }}}}/{{{{ inventory_hostname }}}}.yml"
    - block:
        - ansible.builtin.import_tasks: {role_path}/tasks/precheck.yml
        - ansible.builtin.set_fact:
            outcome: passed
      rescue:
        - ansible.builtin.set_fact:
            outcome: >-
              {{{{ ansible_failed_result.results | default([]) | selectattr('failed', 'defined')
                   | selectattr('failed') | map(attribute='msg') | join(' ')
                   or ansible_failed_result.msg | default(ansible_failed_result) }}}}
    - ansible.builtin.copy:
        content: "{{{{ outcome }}}}"
        dest: "{{{{ cases }}}}/{{{{ inventory_hostname }}}}.out"
        mode: "0600"
"""
CEPH_SOURCE = {'glance_store_ceph_fsid': '0c5f7f5e-5b2b-4a7c-9d51-9ad6b7c3b1f2',
               'glance_store_ceph_mon_host': ['10.0.0.1'], 'glance_store_ceph_keyring': KEY}
PRECHECK_CASES = {
    # name: (variables, what the message must name; None: the checks pass)
    'multi_ok': ({'glance_store_backends': {
        'fast': {'type': 'file', 'filesystem_store_datadir': '/srv/fast'},
        'ceph': {'type': 'rbd'}, 'objects': dict(S3_OPTIONS, type='s3'), 'web': {'type': 'http'}},
        'glance_store_default_backend': 'ceph', **CEPH_SOURCE}, None),
    'no_default': ({'glance_store_backends': {
        'fast': {'type': 'file', 'filesystem_store_datadir': '/srv/fast'},
        'web': {'type': 'http'}}},
        ['glance_store_default_backend', 'must be set']),
    'http_default': ({'glance_store_backends': {'web': {'type': 'http'}}},
                     ['glance_store_default_backend', 'not http']),
    'bad_type': ({'glance_store_backends': {'c': {'type': 'cinder'}},
                  'glance_store_default_backend': 'c'},
                 ['glance_store_backends', 'file|http|rbd|s3', '(c)']),
    'reserved_id': ({'glance_store_backends': {'os_glance_staging_store': {'type': 'file'}}},
                    ['glance_store_backends', 'os_glance_staging_store']),
    'file_no_datadir': ({'glance_store_backends': {'fast': {'type': 'file'}}},
                        ['file store fast: set filesystem_store_datadir in '
                         'glance_store_backends.fast']),
    's3_no_secret': ({'glance_store_backends': {'objects': {
        'type': 's3', 's3_store_host': 'http://s3', 's3_store_access_key': 'a',
        's3_store_bucket': 'b'}}},
        ['s3 store objects: set s3_store_secret_key in glance_store_backends.objects']),
    's3_single_no_keys': ({'glance_store_stores': ['s3'], 'glance_store_default_store': 's3'},
                          ['s3 store: set s3_store_host, s3_store_access_key, s3_store_secret_key, '
                           's3_store_bucket in glance_store_options']),
    'rbd_no_conf': ({'glance_store_backends': {'ceph': {'type': 'rbd'}}},
                    ['glance_store_ceph_conf', 'glance_store_ceph_mon_host',
                     'glance_store_ceph_admin_host']),
    'rbd_no_key': ({'glance_store_backends': {'ceph': {'type': 'rbd'}},
                    'glance_store_ceph_conf': '[global]\nmon_host = 10.0.0.1\n'},
                   ['client.glance', 'glance_store_ceph_keyring']),
    'rbd_other_conf': ({'glance_store_stores': ['rbd'], 'glance_store_default_store': 'rbd',
                        'glance_store_options': {'rbd_store_ceph_conf': '/nonexistent/ceph.conf'},
                        **CEPH_SOURCE}, ['/nonexistent/ceph.conf', 'rbd_store_ceph_conf']),
}


def test_prechecks_name_the_variable_to_fix(tmp_path):
    """The real Ceph of tests/infra/ceph.sh (running: make ceph) is the admin host of the
    last cases: a pool it does not have, a ceph.conf that does not reach it."""
    env_lines = subprocess.run(['bash', str(ROOT / 'tests' / 'infra' / 'ceph.sh'), 'env'],
                               capture_output=True, text=True, check=True).stdout
    ceph = dict(re.findall(r"export (\w+)=(\S+)", env_lines))
    admin = {'glance_store_backends': {'ceph': {'type': 'rbd', 'rbd_store_pool': 'no-such-pool'}},
             'glance_store_ceph_admin_host': 'localhost',
             'glance_store_ceph_admin_conf': ceph['GLINT_TEST_CEPH_CONF']}
    cases = dict(PRECHECK_CASES)
    cases['admin_pool'] = (admin, ['no pool no-such-pool', 'rbd_store_pool'])
    admin_ok = dict(admin, glance_store_backends={'ceph': {'type': 'rbd'}})
    cases['admin_ok'] = (admin_ok, None)
    cases['admin_bad_conf'] = (dict(admin_ok, glance_store_ceph_admin_conf='/nonexistent.conf'),
                               ['glance_store_ceph_admin_host', 'glance_store_ceph_admin_conf'])
    for name, (variables, _) in cases.items():
        (tmp_path / ('%s.yml' % name)).write_text(yaml.safe_dump(variables))
    groups = {'cases': [n for n in cases if not n.startswith('admin_')]}
    groups.update({'play_' + n: [n] for n in cases if n.startswith('admin_')})
    (tmp_path / 'hosts.ini').write_text(
        '[all:vars]\nansible_connection=local\nansible_python_interpreter=%s\ncases=%s\n'
        % (sys.executable, tmp_path)
        + ''.join('[%s]\n%s\n' % (g, '\n'.join(h)) for g, h in groups.items())
        + 'localhost\n')
    (tmp_path / 'precheck.yml').write_text(''.join(
        PRECHECK.format(hosts=g, role_path=ROOT / 'roles' / 'glance_store') for g in groups))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_NOCOLOR='1')
    result = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(tmp_path / 'hosts.ini'),
                             str(tmp_path / 'precheck.yml')],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert 'failed=0' in result.stdout and 'unreachable=0' in result.stdout, result.stdout[-6000:]
    wrong = {}
    for name, (_, named) in cases.items():
        outcome = ' '.join((tmp_path / ('%s.out' % name)).read_text().split())
        if (named is None and outcome != 'passed') or (
                named is not None and not all(n in outcome for n in named)):
            wrong[name] = outcome
    assert not wrong, wrong
