"""molecule/default: glance_store and glance_api on one systemd container with the roles'
defaults (SQLite, file store, no authentication) on port 19292."""

import glint_checks as check

PORT = 19292
CONF = '/etc/glance/glance-api.conf'


def test_systemd_is_pid_1(host):
    assert host.file('/proc/1/comm').content_string.strip() == 'systemd'
    assert host.file('/run/systemd/system').is_directory


def test_glance_api_listens_on_loopback(host):
    check.unit_listens(host, 'glance-api', 'glance', PORT)
    check.answers_healthcheck(host, PORT)


def test_config_files_and_permissions(host):
    check.has_mode(host, '/etc/glance', 'root', 'glance', 0o750)
    check.has_mode(host, CONF, 'root', 'glance', 0o640)
    check.has_mode(host, '/etc/glance/glance-api-paste.ini', 'root', 'glance', 0o640)
    check.has_mode(host, '/etc/glance/glance-api.conf.d/glance-store.conf', 'root', 'glance', 0o640)
    conf = check.read_ini(host, CONF)
    assert conf.get('DEFAULT', 'bind_host') == '127.0.0.1'
    assert conf.get('DEFAULT', 'bind_port') == str(PORT)
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
