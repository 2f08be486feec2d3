"""molecule/default: glance_store and glance_api with the roles' defaults (SQLite, file
store, no authentication) on one systemd container per Debian release: glint-bookworm
(Debian 12, port 19292) and glint-trixie (Debian 13, port 19293). Every test runs on both."""

import glint_checks as check
import pytest

CONF = '/etc/glance/glance-api.conf'
DEBIAN = {'glint-bookworm': ('12', '(3, 11)'), 'glint-trixie': ('13', '(3, 13)')}
VENV_PYTHON = '/opt/glint/venv/bin/python -c "import sys; print(sys.version_info[:2])"'


@pytest.fixture(scope='module')
def port(host):
    return int(host.ansible.get_variables()['glance_api_bind_port'])


def test_debian_release_and_its_python_in_the_venv(host):
    release, python = DEBIAN[host.backend.get_hostname()]
    assert host.file('/etc/debian_version').content_string.split('.')[0] == release
    assert host.check_output(VENV_PYTHON) == python


def test_systemd_is_pid_1(host):
    assert host.file('/proc/1/comm').content_string.strip() == 'systemd'
    assert host.file('/run/systemd/system').is_directory


def test_glance_api_listens_on_loopback(host, port):
    check.unit_listens(host, 'glance-api', 'glance', port)
    check.answers_healthcheck(host, port)


def test_config_files_and_permissions(host, port):
    check.has_mode(host, '/etc/glance', 'root', 'glance', 0o750)
    check.has_mode(host, CONF, 'root', 'glance', 0o640)
    check.has_mode(host, '/etc/glance/glance-api-paste.ini', 'root', 'glance', 0o640)
    check.has_mode(host, '/etc/glance/glance-api.conf.d/glance-store.conf', 'root', 'glance', 0o640)
    conf = check.read_ini(host, CONF)
    assert conf.get('DEFAULT', 'bind_host') == '127.0.0.1'
    assert conf.get('DEFAULT', 'bind_port') == str(port)
    assert conf.get('database', 'connection') == 'sqlite:////var/lib/glance/glance.sqlite'
    assert conf.get('paste_deploy', 'flavor') == ''
    assert conf.get('oslo_messaging_notifications', 'driver') == 'noop'
    store = check.read_ini(host, '/etc/glance/glance-api.conf.d/glance-store.conf')
    assert store.get('glance_store', 'filesystem_store_datadir') == '/var/lib/glance/images'


def test_state_belongs_to_the_service_user(host):
    check.has_mode(host, '/var/lib/glance', 'glance', 'glance', 0o750)
    check.has_mode(host, '/var/lib/glance/images', 'glance', 'glance', 0o750)
    check.has_mode(host, '/var/lib/glance/glance.sqlite', 'glance', 'glance', 0o640)
    check.has_mode(host, '/var/log/glance', 'glance', 'glance', 0o750)


def test_image_up_down_and_gone(image_flow):
    image_flow.check()


def test_logs_free_of_tracebacks(host, image_flow):
    check.no_tracebacks(host, 'glance-api', ['/var/log/glance/glance-api.log'])
