"""The roles never write what the service ignores or refuses: their files, rendered for a
matrix of variable combinations taken from meta/argument_specs.yml, pass the service's
own check (`glance-api --config-file F --config-dir D --check-config`, and
glance-registry's) with no error and no "not used by Glint" note.

The matrix is pairwise, not the full product: every pair of values of two factors
(single or multi-store, registry, flavors, notifications, older names, overrides, file
store layout, NFS) is in some combination, and every store type the argument_specs allow
appears at least once (its aliases only rename the same driver). Multi-store has a
backend of every type (file, http, rbd, s3), the default one of each writable type in
turn. That is 14 combinations where the product is over 10,000, one ansible-playbook
run per inventory renders them all, and the checks (about 2 s each) run two at a time.
The rbd store needs Ceph's bindings in this virtualenv (`make ceph` links them).
"""
from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml
from test_roles_render import conf_task

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
ROLES = ('glance_store', 'glance_api', 'glance_registry')
PASTE = ROOT / 'service' / 'glint' / 'etc'


def spec(role: str) -> dict:
    path = ROOT / 'roles' / role / 'meta' / 'argument_specs.yml'
    return yaml.safe_load(path.read_text())['argument_specs']['main']['options']


SPECS = {role: spec(role) for role in ROLES}

# Every option with choices that shapes a file is a factor (the others pick a service
# manager or a Keystone password policy, nothing in the files).
NOT_IN_FILES = {'glance_api_service_manager', 'glance_registry_service_manager',
                'glance_api_keystone_update_password'}
FACTORS = {
    'store': SPECS['glance_store']['glance_store_stores']['choices'],
    'default_store': SPECS['glance_store']['glance_store_default_store']['choices'],
    'multi_store': [False, True],
    'datadirs': [False, True],
    'nfs': [False, True],
    'registry': [False, True],
    'api_flavor': SPECS['glance_api']['glance_api_flavor']['choices'],
    'registry_flavor': SPECS['glance_registry']['glance_registry_flavor']['choices'],
    'notifications': [False, True],
    'older_names': ['none', 'variables', 'overrides'],
    'overrides': [False, True],
}
# The older guides' role variables (argument_specs: "Older guides' ..."), and a value each.
OLDER_VARIABLES = {
    'glance_api_keystone_auth_uri': 'http://keystone.example.net:5000/v2.0',
    'glance_api_keystone_identity_uri': 'http://keystone.example.net:35357',
    'glance_api_keystone_admin_user': 'glance',
    'glance_api_keystone_admin_password': 'secret',
    'glance_api_keystone_admin_tenant_name': 'service',
    'glance_api_rabbit_host': 'rabbit1.example.net',
    'glance_api_rabbit_hosts': ['rabbit1.example.net', 'rabbit2.example.net:5673'],
    'glance_api_rabbit_port': 5672,
    'glance_api_rabbit_userid': 'glance',
    'glance_api_rabbit_password': 'p@ss/word',
    'glance_api_rabbit_virtual_host': 'openstack',
}


# The driver each store type names (the service's glint.store.backend.LEGACY_NAMES).
DRIVER = {name: name.rpartition('._drivers.')[2].rpartition('.store')[0] or name
          for name in FACTORS['store']}
DRIVER.update({'filesystem': 'file', 'glance.store.filesystem.store': 'file',
               'glance_store._drivers.filesystem.store': 'file', 'https': 'http',
               'glance.store.http.store': 'http', 'glance.store.rbd.store': 'rbd',
               'glance.store.s3.store': 's3'})
S3 = {'s3_store_host': 'http://s3.example.net:8080', 's3_store_access_key': 'access',
      's3_store_secret_key': 'secret', 's3_store_bucket': 'images'}
# Multi-store: a backend of each type (id: type), and the options each needs.
BACKENDS = {'fast': 'file', 'ceph': 'rbd', 'objects': 's3', 'web': 'http'}


def test_factors_cover_the_argument_specs():
    with_choices = {name for role in ROLES for name, option in SPECS[role].items()
                    if 'choices' in option} - NOT_IN_FILES
    assert with_choices == {'glance_store_stores', 'glance_store_default_store',
                            'glance_api_flavor', 'glance_registry_flavor'}
    older = {name for name, option in SPECS['glance_api'].items()
             if str(option.get('description')).startswith("Older guides'")}
    assert older == set(OLDER_VARIABLES)
    assert set(DRIVER.values()) == set(BACKENDS.values())


def pairwise(factors: dict[str, list], once: tuple[str, ...] = ()) -> list[dict]:
    """Combinations holding every pair of values of two factors (greedily, in a fixed
    order), the factors in ``once`` only each value once, cycled through the rows."""
    names = [n for n in factors if n not in once]
    levels = {n: range(len(factors[n])) for n in names}
    todo = {((a, i), (b, j)) for a, b in itertools.combinations(names, 2)
            for i in levels[a] for j in levels[b]}
    rows = []
    while todo:
        (a, i), (b, j) = min(todo)
        row = {a: i, b: j}
        for name in names:
            if name not in row:
                row[name] = max(levels[name], key=lambda v, n=name: sum(
                    ((m, row[m]), (n, v)) in todo or ((n, v), (m, row[m])) in todo
                    for m in row))
        rows.append(row)
        todo -= {((a, row[a]), (b, row[b])) for a, b in itertools.combinations(names, 2)}
    for name in once:
        while len(rows) < len(factors[name]):
            rows.append(dict(rows[len(rows) % len(rows)]))
        for k, row in enumerate(rows):
            row[name] = k % len(factors[name])
    return [{n: factors[n][row[n]] for n in factors} for row in rows]


COMBINATIONS = pairwise(FACTORS, once=('store', 'default_store'))
# The multi-store rows' default backends: each writable type in turn (http is read-only).
for _k, _c in enumerate(c for c in COMBINATIONS if c['multi_store']):
    _c['default_backend'] = ('ceph', 'objects', 'fast')[_k % 3]


def test_pairwise_covers_every_pair():
    names = [n for n in FACTORS if n not in ('store', 'default_store')]
    for a, b in itertools.combinations(names, 2):
        seen = {(c[a], c[b]) for c in COMBINATIONS}
        assert seen == set(itertools.product(FACTORS[a], FACTORS[b])), (a, b)
    for name in ('store', 'default_store'):
        assert {c[name] for c in COMBINATIONS} == set(FACTORS[name])
    single = [c for c in COMBINATIONS if not c['multi_store']]
    assert {DRIVER[c['store']] for c in single} == {'file', 'http', 'rbd', 's3'}
    assert {DRIVER[c['default_store']] for c in single} == {'file', 'rbd', 's3'}
    defaults = {c['default_backend'] for c in COMBINATIONS if c['multi_store']}
    assert defaults == {'fast', 'ceph', 'objects'}
    assert len(COMBINATIONS) < 40


def variables(c: dict, d: Path) -> dict[str, dict]:
    """Each role's variables for combination ``c``, its files under ``d``."""
    store = {'glance_store_conf_dir': str(d),
             'glance_store_stores': list(dict.fromkeys([c['store'], c['default_store']])),
             'glance_store_default_store': c['default_store']}
    datadir = ({'filesystem_store_datadirs': ['%s/a:200' % d, '%s/b:100' % d]} if c['datadirs']
               else {'filesystem_store_datadir': '%s/images' % d})
    if c['multi_store']:
        store['glance_store_backends'] = {
            name: dict({'type': kind, 'store_description': 'the %s backend' % kind},
                       **(datadir if kind == 'file' else S3 if kind == 's3' else {}))
            for name, kind in BACKENDS.items()}
        store['glance_store_backends']['ceph']['weight'] = 10
        store['glance_store_default_backend'] = c['default_backend']
    else:
        store.update({'glance_store_' + k: v for k, v in datadir.items()})
        if 's3' in {DRIVER[s] for s in store['glance_store_stores']}:
            store['glance_store_options'] = S3
    if c['nfs']:
        store['glance_store_nfs_share'] = 'nfs.example.net:/export/images'
    api = {'glance_api_conf_dir': str(d), 'glance_api_log_dir': str(d),
           'glance_api_state_dir': str(d), 'glance_api_flavor': c['api_flavor']}
    registry = {'glance_registry_conf_dir': str(d), 'glance_registry_log_dir': str(d),
                'glance_registry_state_dir': str(d),
                'glance_registry_flavor': c['registry_flavor']}
    api_overrides, registry_overrides = {}, {}
    keystone = {'www_authenticate_uri': 'http://keystone.example.net:5000',
                'auth_url': 'http://keystone.example.net:5000', 'password': 'secret'}
    if c['older_names'] == 'variables':
        api.update(OLDER_VARIABLES)
    elif c['older_names'] == 'overrides':
        api_overrides = {
            'DEFAULT': {'rabbit_host': 'rabbit1.example.net', 'rabbit_userid': 'glance',
                        'rabbit_password': 'secret',
                        'sql_connection': 'sqlite:///%s/glance.sqlite' % d},
            'oslo_messaging_rabbit': {'rabbit_virtual_host': 'openstack'},
            'keystone_authtoken': {'auth_uri': 'http://keystone.example.net:5000/v2.0',
                                   'identity_uri': 'http://keystone.example.net:35357',
                                   'admin_user': 'glance', 'admin_password': 'secret',
                                   'admin_tenant_name': 'service'}}
        if c['notifications']:
            api_overrides['DEFAULT']['notification_driver'] = 'messagingv2'
        registry_overrides = {
            'DEFAULT': {'sql_connection': 'sqlite:///%s/glance.sqlite' % d},
            'keystone_authtoken': {'identity_uri': 'http://keystone.example.net:35357',
                                   'admin_user': 'glance', 'admin_password': 'secret'}}
    if c['older_names'] != 'variables':
        api.update({'glance_api_keystone_' + k: v for k, v in keystone.items()})
    registry.update({'glance_registry_keystone_' + k: v for k, v in keystone.items()})
    if c['notifications']:
        api['glance_api_notification_driver'] = 'messagingv2'
        if c['older_names'] == 'none':
            api['glance_api_transport_url'] = 'rabbit://glance:secret@127.0.0.1:5672/'
        api['glance_api_oslo_messaging_rabbit'] = {'heartbeat_timeout_threshold': 30}
    if c['overrides']:
        section = 'fast' if c['multi_store'] else 'glance_store'
        if c['multi_store'] or DRIVER[c['store']] == 'file' or DRIVER[c['default_store']] == 'file':
            store['glance_store_conf_overrides'] = {section: {'filesystem_store_file_perm': 416}}
        else:
            store['glance_store_conf_overrides'] = {section: {'rbd_store_chunk_size': 4}}
        api['glance_api_workers'] = 2
        api['glance_api_quotas'] = {'image_member_quota': 64, 'image_tag_quota': -1}
        api['glance_api_oslo_policy'] = {'enforce_scope': True}
        api_overrides.setdefault('DEFAULT', {}).update(
            {'log_file': None, 'hashing_algorithm': 'sha256', 'image_size_cap': 2 ** 30})
        api_overrides['cors'] = {'allowed_origin': 'https://dashboard.example.net'}
        registry['glance_registry_workers'] = 2
        registry_overrides.setdefault('DEFAULT', {})['log_file'] = None
    api['glance_api_conf_overrides'] = api_overrides
    registry['glance_registry_conf_overrides'] = registry_overrides
    return {'glance_store': store, 'glance_api': api, 'glance_registry': registry}


# One play per role over every combination (a host each): the role's defaults and
# vars/main.yml as the harness of test_roles_render loads them, the combination's
# variables above them (include_vars), and the role's own content and dest expressions
# evaluated by debug (an action on the controller: no module process per file).
PLAY = """
- name: {role}
  hosts: {hosts}
  gather_facts: false
  vars:
    role_path: {role_path}
  vars_files:
    - {role_path}/defaults/main.yml
    - {role_path}/vars/main.yml
  tasks:
    - ansible.builtin.include_vars:
        file: "{{{{ combination_dir }}}}/{role}.yml"
    - ansible.builtin.debug:
        msg:
          dest: {dest}
          content: {content}
      vars: {task_vars}
"""


def render_all(base: Path, combinations: list[dict], registry_group: bool) -> None:
    """Every role's file of every combination, in one ansible-playbook run."""
    run = base / ('registry' if registry_group else 'direct')
    run.mkdir()
    hosts = {'combinations': [], 'with_registry': []}
    for c in combinations:
        d = Path(c['dir'])
        (d / 'glance-api.conf.d').mkdir(parents=True)
        for paste in PASTE.glob('*-paste.ini'):     # as the roles copy them
            shutil.copy(paste, d)
        for role, role_vars in variables(c, d).items():
            (d / ('%s.yml' % role)).write_text(yaml.safe_dump(role_vars))
        hosts['combinations'].append('%s combination_dir=%s' % (d.name, d))
        if c['registry']:
            hosts['with_registry'].append(d.name)
    plays = []
    for role in ROLES:
        task = conf_task(role)
        copy = task['ansible.builtin.copy']
        plays.append(PLAY.format(
            role=role, role_path=ROOT / 'roles' / role,
            hosts='with_registry' if role == 'glance_registry' else 'combinations',
            content=json.dumps(copy['content']), dest=json.dumps(copy['dest']),
            task_vars=json.dumps(task.get('vars', {}))))
    (run / 'render.yml').write_text(''.join(plays))
    inventory = run / 'hosts.ini'
    inventory.write_text(
        '[all:vars]\nansible_connection=local\nansible_python_interpreter=%s\n' % sys.executable
        + ''.join('[%s]\n%s\n' % (group, '\n'.join(members)) for group, members in hosts.items())
        + ('[glance_registry]\nregistry1 ansible_host=127.0.0.1\n' if registry_group else ''))
    env = dict(os.environ, ANSIBLE_CONFIG=str(ROOT / 'ansible.cfg'), ANSIBLE_NOCOLOR='1',
               ANSIBLE_STDOUT_CALLBACK='ansible.posix.json', ANSIBLE_FORKS='10')
    result = subprocess.run([str(BIN / 'ansible-playbook'), '-i', str(inventory),
                             str(run / 'render.yml')],
                            capture_output=True, text=True, env=env, cwd=run)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr
    for play in json.loads(result.stdout)['plays']:
        for task in play['tasks'][-1:]:      # none when a play has no host
            for outcome in task['hosts'].values():
                Path(outcome['msg']['dest']).write_text(outcome['msg']['content'])


def check(command: str, *args: str) -> tuple[int, str]:
    result = subprocess.run([str(BIN / command), *args, '--check-config'],
                            capture_output=True, text=True)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope='module')
def rendered(tmp_path_factory):
    base = tmp_path_factory.mktemp('matrix')
    combinations = [dict(c, dir=str(base / ('c%02d' % i)))
                    for i, c in enumerate(COMBINATIONS)]
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(lambda r: render_all(base, [c for c in combinations
                                                  if c['registry'] == r], r),
                      [False, True]))
    return combinations


def unexpected(c: dict, output: str) -> list[str]:
    return [line for line in output.splitlines() if 'not used by Glint' in line]


def test_every_combination_passes_the_service_check(rendered, checked):
    failed = []
    for c, command, status, output in checked:
        if status != 0 or unexpected(c, output) or 'configuration OK' not in output:
            combo = {k: v for k, v in c.items() if k != 'dir'}
            failed.append('%s %s (%s):\n%s' % (command, Path(c['dir']).name, combo, output))
    assert not failed, '\n'.join(failed)


@pytest.fixture(scope='module')
def checked(rendered):
    """(combination, command, exit status, output) of every check."""
    jobs = []
    for c in rendered:
        d = Path(c['dir'])
        jobs.append((c, 'glance-api', '--config-file', str(d / 'glance-api.conf'),
                     '--config-dir', str(d / 'glance-api.conf.d')))
        if c['registry']:
            jobs.append((c, 'glance-registry', '--config-file',
                         str(d / 'glance-registry.conf')))
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda job: (job[0], job[1], *check(*job[1:])), jobs))


def test_the_matrix_wrote_what_it_varies(rendered):
    """The combinations reach the files (a factor that changes nothing tests nothing)."""
    for c in rendered:
        d = Path(c['dir'])
        api = (d / 'glance-api.conf').read_text()
        store = (d / 'glance-api.conf.d' / 'glance-store.conf').read_text()
        drivers = {DRIVER[c['store']], DRIVER[c['default_store']]}
        if c['multi_store']:
            enabled = re.search(r'^enabled_backends = (.*)$', store, re.M).group(1)
            assert sorted(enabled.split(',')) == sorted('%s:%s' % b for b in BACKENDS.items())
            assert 'default_backend = %s\n' % c['default_backend'] in store
            assert 'stores =' not in store and 'default_store' not in store
            assert '[ceph]\nrbd_store_pool = images\nrbd_store_user = glance\n' in store
            assert 's3_store_secret_key = secret' in store
        else:
            assert ('default_store = %s\n' % c['default_store']) in store
            assert ('stores = %s' % c['store']) in store
            assert ('rbd_store_user = glance' in store) == ('rbd' in drivers)
            assert ('s3_store_bucket = images' in store) == ('s3' in drivers)
        file_store = c['multi_store'] or 'file' in drivers
        datadirs = 'filesystem_store_datadirs = %s/a:200' % d in store
        assert datadirs == (c['datadirs'] and file_store)
        assert ('data_api = glint.db.registry.api' in api) == c['registry']
        assert ('flavor = keystone' in api) == (c['api_flavor'] == 'keystone')
        assert ('[keystone_authtoken]' in api) == (c['api_flavor'] == 'keystone'
                                                   or c['older_names'] == 'overrides')
        assert ('transport_url = rabbit://' in api) == c['notifications']
        for old in ('rabbit_', 'admin_', 'identity_uri', 'auth_uri', 'sql_connection',
                    'notification_driver'):
            assert old not in api, old
        if c['registry']:
            registry = (d / 'glance-registry.conf').read_text()
            assert ('flavor = keystone' in registry) == (c['registry_flavor'] == 'keystone')
