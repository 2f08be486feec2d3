"""molecule/ceph: glance-api on glint-ceph-a (port 19492) and glint-ceph-b (19493), one
PostgreSQL database, multi-store with the rbd backend `ceph` (the default) on this host's
Ceph and the file backend `shared` in a directory both containers mount. The scenario's
names come from its inventory (molecule.yml), the cluster's from the file prepare.yml
wrote. Per-host tests run on both containers."""

import json
import os
import subprocess
import uuid
from pathlib import Path

import glint_checks as check
import pytest
import requests

FLOW = Path(__file__).resolve().parents[1] / 'image_flow.yml'
DROP_IN = '/etc/glance/glance-api.conf.d/glance-store.conf'
LOG = '/var/log/glance/glance-api.log'
# (store, the host glance_image uploads through, the one that downloads and deletes)
FLOWS = [('ceph', 'glint-ceph-a', 'glint-ceph-b'), ('shared', 'glint-ceph-b', 'glint-ceph-a')]


@pytest.fixture(scope='module')
def inv(host):
    return host.ansible.get_variables()


@pytest.fixture(scope='module')
def port(inv):
    return int(inv['glance_api_bind_port'])


@pytest.fixture(scope='session')
def ceph():
    """What prepare.yml read of the cluster: fsid, mon_host, key, user, pool, conf."""
    return json.loads(
        (Path(os.environ['MOLECULE_EPHEMERAL_DIRECTORY']) / 'ceph-client.json').read_text())


@pytest.fixture(scope='session')
def flows():
    """image_flow.yml for each store of FLOWS, side by side: {store: its CompletedProcess}."""
    inventory = os.environ['MOLECULE_INVENTORY_FILE']
    env = {**os.environ, 'ANSIBLE_NOCOLOR': '1', 'ANSIBLE_FORCE_COLOR': '0'}
    running = {}
    for store, upload_host, other_host in FLOWS:
        name = f'glint-molecule-ceph-{store}-{uuid.uuid4().hex[:8]}'
        running[store] = subprocess.Popen(
            ['ansible-playbook', '-i', inventory, str(FLOW),
             '-e', f'glint_flow_store={store}', '-e', f'glint_flow_image_name={name}',
             '-e', f'glint_flow_upload_host={upload_host}',
             '-e', f'glint_flow_other_host={other_host}'],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    done = {}
    for store, proc in running.items():
        stdout, stderr = proc.communicate(timeout=900)
        done[store] = subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)
    return done


def passed(flow):
    """Fail with the end of the playbook's output unless it succeeded."""
    assert flow.returncode == 0, flow.stdout[-6000:] + flow.stderr[-2000:]


def test_glance_api_listens_on_loopback(host, port):
    check.unit_listens(host, 'glance-api', 'glance', port)
    check.answers_healthcheck(host, port)


def test_both_hosts_use_the_scenario_database(host, inv):
    conf = check.read_ini(host, '/etc/glance/glance-api.conf')
    assert conf.get('database', 'connection') == (
        f"postgresql+psycopg://{inv['glint_db_user']}:{inv['glint_db_password']}"
        f"@127.0.0.1:5432/{inv['glint_db_name']}")
    assert conf.get('DEFAULT', 'show_image_direct_url') == 'true'


def test_multi_store_drop_in(host, inv, ceph):
    check.has_mode(host, DROP_IN, 'root', 'glance', 0o640)
    store = check.read_ini(host, DROP_IN)
    assert store.get('DEFAULT', 'enabled_backends') == 'ceph:rbd,shared:file'
    assert store.get('glance_store', 'default_backend') == 'ceph'
    assert store.get('ceph', 'rbd_store_pool') == ceph['pool']
    assert store.get('ceph', 'rbd_store_user') == ceph['user']
    assert store.get('ceph', 'rbd_store_ceph_conf') == '/etc/ceph/ceph.conf'
    assert store.get('shared', 'filesystem_store_datadir') == inv['glint_file_store_dir']


def test_ceph_client_files_from_the_variables(host, ceph):
    check.has_mode(host, '/etc/ceph/ceph.conf', 'root', 'root', 0o644)
    conf = check.read_ini(host, '/etc/ceph/ceph.conf')
    assert conf.get('global', 'fsid') == ceph['fsid']
    assert conf.get('global', 'mon_host') == ','.join(ceph['mon_host'])
    keyring = f"/etc/ceph/ceph.client.{ceph['user']}.keyring"
    check.has_mode(host, keyring, 'root', 'glance', 0o640)
    assert check.read_ini(host, keyring).get(f"client.{ceph['user']}", 'key') == ceph['key']


def test_virtualenv_sees_the_ceph_bindings(host):
    host.check_output('/opt/glint/venv/bin/python -c "import rados, rbd"')


def test_shared_directory_is_the_host_directory(host, inv):
    """The file backend's directory is the bind mount of the host's directory, owned by
    the service user the role made (the same uid in both containers)."""
    check.has_mode(host, inv['glint_file_store_dir'], 'glance', 'glance', 0o750)
    mounts = host.check_output(f"findmnt -n -o TARGET {inv['glint_file_store_dir']}")
    assert mounts == inv['glint_file_store_dir']
    uid = host.check_output('id -u glance')
    assert str(os.stat(inv['glint_file_store_host_dir']).st_uid) == uid


def test_both_stores_served_rbd_the_default(port):
    """In Glance's words: default is the string 'true', on the default store only."""
    stores = requests.get(f'http://127.0.0.1:{port}/v2/info/stores', timeout=30).json()['stores']
    assert [(s['id'], s.get('default', False)) for s in stores] == [
        ('ceph', 'true'), ('shared', False)]


def test_rbd_image_uploaded_on_a_downloaded_and_deleted_on_b(flows):
    passed(flows['ceph'])


def test_file_image_uploaded_on_b_downloaded_and_deleted_on_a(flows):
    passed(flows['shared'])


def test_logs_free_of_tracebacks(host, flows):
    # glance-api logs nothing for requests that succeed: only the host that ran glance-manage
    # db sync (once, for the shared database) has lines in its log file.
    check.has_mode(host, LOG, 'glance', 'glance', 0o640)
    check.no_tracebacks(host, 'glance-api', [LOG] if host.file(LOG).size else [])
