"""Fail fast: what glance-api and glance-registry refuse to start with, and the older
install guides' option names they translate (real Keystone, real RabbitMQ)."""
from __future__ import annotations

import subprocess
import urllib.parse

import pytest
import requests

from tests.infra import keystone
from tests.service.server import GlintServer, RegistryServer
from tests.service.test_notifications import TOPIC, TRANSPORT_URL, Listener

UPSTREAM_FLAVORS = ['caching', 'cachemanagement', 'keystone+caching',
                    'keystone+cachemanagement', 'trusted-auth',
                    'trusted-auth+cachemanagement']


def run(server, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(server.argv(*args), capture_output=True, text=True, timeout=60)


@pytest.fixture
def api():
    servers = []

    def make(overrides=None, **kwargs):
        servers.append(GlintServer(overrides=overrides, **kwargs))
        return servers[-1]
    yield make
    for server in servers:
        server.cleanup()


def test_a_good_configuration_passes_and_unused_options_are_noted(api):
    server = api({'DEFAULT': {'show_image_direct_url': 'false', 'not_a_glance_option': 1}})
    done = run(server, '--check-config')
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == 'glance-api: configuration OK'
    assert ('glance-api: NOTE: [DEFAULT] not_a_glance_option is not used by Glint; '
            'ignored.') in done.stdout.splitlines()
    assert 'show_image_direct_url' not in done.stdout


REFUSED = {
    'unknown store': ({'glance_store': {'stores': 'file,cinder'}},
                      '[glance_store] stores', 'no store driver "cinder"'),
    'default store not enabled': ({'glance_store': {'default_store': 'http',
                                                    'stores': 'file'}},
                                  '[glance_store] default_store', 'not among'),
    'read-only default store': ({'glance_store': {'default_store': 'http'}},
                                '[glance_store] default_store', 'is read-only'),
    'multi-store without a default': ({'DEFAULT': {'enabled_backends': 'fast:file'}},
                                      '[glance_store] default_backend', 'not set'),
    'default backend not enabled': ({'DEFAULT': {'enabled_backends': 'fast:file'},
                                     'glance_store': {'default_backend': 'slow'}},
                                    '[glance_store] default_backend',
                                    'not among the enabled backends (fast)'),
    'unknown backend type': ({'DEFAULT': {'enabled_backends': 'fast:cinder'},
                              'glance_store': {'default_backend': 'fast'}},
                             '[DEFAULT] enabled_backends', 'no store driver "cinder"'),
    'port out of range': ({'DEFAULT': {'bind_port': 99999}},
                          '[DEFAULT] bind_port', 'less than or equal to 65535'),
    'negative workers': ({'DEFAULT': {'workers': -1}},
                         '[DEFAULT] workers', 'greater than or equal to 0'),
    'not a number': ({'DEFAULT': {'image_size_cap': 'lots'}},
                     '[DEFAULT] image_size_cap', 'invalid literal'),
    'unknown hash': ({'DEFAULT': {'hashing_algorithm': 'sha9'}},
                     '[DEFAULT] hashing_algorithm', 'hashlib has no "sha9"'),
    'bad quota': ({'DEFAULT': {'user_storage_quota': '10 parsecs'}},
                  '[DEFAULT] user_storage_quota', 'is not a size'),
    'database driver missing': ({'database': {'connection': 'mysql://root@h/glance'}},
                                '[database] connection', "No module named 'MySQLdb'"),
    'unknown data_api': ({'DEFAULT': {'data_api': 'glance.db.simple.api'}},
                         '[DEFAULT] data_api', 'no module'),
    'keystone without a service user': ({'paste_deploy': {'flavor': 'keystone'}},
                                        '[keystone_authtoken] auth_type', 'not set'),
    'old and new name at once': (
        {'keystone_authtoken': {'admin_user': 'glance', 'username': 'glance'}},
        '[keystone_authtoken] admin_user and username are both set', 'remove admin_user'),
    'rabbit_* beside transport_url': (
        {'DEFAULT': {'rabbit_host': 'h', 'transport_url': 'rabbit://h'}},
        'rabbit_* options and transport_url are both set', 'remove'),
}


@pytest.mark.parametrize('case', REFUSED)
def test_a_setting_glint_cannot_honour_is_refused_with_one_line(api, case):
    overrides, where, why = REFUSED[case]
    server = api(overrides)
    for args in (['--check-config'], []):         # the check, and a real start
        done = run(server, *args)
        assert done.returncode == 1, (case, args, done.stdout, done.stderr)
        errors = [line for line in done.stderr.splitlines() if 'ERROR' in line]
        assert len(errors) == 1, done.stderr
        assert errors[0].startswith('glance-api: ERROR: ' + where), errors
        assert why in errors[0], errors
        option = where.partition('] ')[2]
        if option and option in str(overrides):      # set in the file: the file is named
            assert ' in %s: ' % server.config in errors[0], errors
        assert 'Traceback' not in done.stderr


@pytest.mark.parametrize('flavor', UPSTREAM_FLAVORS)
def test_every_upstream_flavor_is_served_or_refused(api, flavor):
    server = api({'paste_deploy': {'flavor': flavor},
                  'keystone_authtoken': keystone.authtoken_options()})
    done = run(server, '--check-config')
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'glance-api: ERROR: [paste_deploy] flavor in %s: "%s" is not served: %s.'
        % (server.config, flavor, 'it takes the caller\'s identity from request headers '
           'anyone can send; use "keystone"' if 'trusted-auth' in flavor
           else 'the image cache is not served by Glint yet'))


def test_a_paste_file_glint_cannot_build_is_refused(api):
    """Upstream's own glance-api-paste.ini names Glance's factories."""
    server = api()
    paste = server.dir / 'upstream-paste.ini'
    paste.write_text('[pipeline:glance-api]\npipeline = versionnegotiation rootapp\n'
                     '[filter:versionnegotiation]\npaste.filter_factory = '
                     'glance.api.middleware.version_negotiation:VersionNegotiationFilter'
                     '.factory\n[app:rootapp]\npaste.app_factory = glance.api:root_app_factory\n')
    server.config.write_text(server.config.read_text()
                             + '[paste_deploy]\nconfig_file = %s\n' % paste)
    done = run(server, '--check-config')
    assert done.returncode == 1
    assert ('[paste_deploy] flavor in %s: pipeline "glance-api" of %s cannot be built: '
            "No module named 'glance'" % (server.config, paste)) in done.stderr, done.stderr


def test_the_registry_checks_its_configuration_too():
    registry = RegistryServer(overrides={'paste_deploy': {'flavor': 'trusted-auth'}})
    try:
        done = run(registry, '--check-config')
        assert done.returncode == 1
        assert done.stderr.startswith('glance-registry: ERROR: [paste_deploy] flavor in ')
        ok = RegistryServer()
        try:
            assert run(ok, '--check-config').stdout.strip() == \
                'glance-registry: configuration OK'
        finally:
            ok.cleanup()
    finally:
        registry.cleanup()


def _guide_style_options() -> dict:
    """glance-api.conf as the Glance architecture guide wrote it: Keystone v2-era
    names and RabbitMQ in [DEFAULT] (pointing at this run's Keystone and RabbitMQ)."""
    root = keystone.KEYSTONE_URL.rsplit('/v3', 1)[0]
    rabbit = urllib.parse.urlsplit(TRANSPORT_URL)
    return {
        'DEFAULT': {'rabbit_host': rabbit.hostname, 'rabbit_port': rabbit.port,
                    'rabbit_userid': rabbit.username, 'rabbit_password': rabbit.password,
                    'notification_driver': 'messagingv2'},
        'oslo_messaging_notifications': {'topics': TOPIC},
        'keystone_authtoken': {'auth_uri': root + '/v2.0', 'identity_uri': root,
                               'admin_user': keystone.SERVICE_USER,
                               'admin_password': keystone.SERVICE_PASSWORD,
                               'admin_tenant_name': keystone.SERVICE_PROJECT},
        'paste_deploy': {'flavor': 'keystone'},
    }


def test_the_architecture_guides_old_names_are_translated(api):
    keystone.ensure_running()
    listener = Listener(TRANSPORT_URL)
    server = api(_guide_style_options())
    try:
        server.start()
        password, project, _ = keystone.USERS['alpha-member']
        token, _ = keystone.get_token('alpha-member', password, project)
        headers = {'X-Auth-Token': token}
        assert requests.get(server.url + '/v2/images', headers=headers).status_code == 200
        created = requests.post(server.url + '/v2/images', headers=headers,
                                json={'name': 'guide-style'})
        assert created.status_code == 201, created.text
        listener.wait('image.create', id=created.json()['id'])
        assert requests.get(server.url + '/v2/images').status_code == 401
        for old in ('auth_uri', 'identity_uri', 'admin_user', 'admin_password',
                    'admin_tenant_name', 'notification_driver'):
            assert server.log.count('] %s is deprecated' % old) == 1, server.log
        assert 'rabbit_host/rabbit_password/rabbit_port/rabbit_userid is deprecated' \
            in server.log
        assert 'not used by Glint' not in server.log
    finally:
        listener.close()
