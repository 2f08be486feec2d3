"""The roles' one rendering path: plugins/filter/oslo_config.py (oslo_config merges and maps
the older guides' names, oslo_ini writes the file, oslo_has_secret decides no_log)."""
import configparser

import pytest
from ansible.errors import AnsibleFilterError
from ansible_collections.glint.glance.plugins.filter.oslo_config import (
    FilterModule,
    oslo_config,
    oslo_has_secret,
    oslo_ini,
    rabbit_transport_url,
)


def test_the_filters_are_exported():
    assert set(FilterModule().filters()) == {'oslo_config', 'oslo_ini', 'oslo_has_secret'}


# --- oslo_ini ----------------------------------------------------------------------------

def test_ini_values_as_oslo_config_reads_them():
    text = oslo_ini({
        'DEFAULT': {'bind_port': 9292, 'debug': False, 'workers': None, 'flavor': '',
                    'formats': ['raw', 'qcow2'], 'none': [], 'limits': {'a': 1, 'b': True}},
        'empty': {}, 'only_null': {'x': None}, 'null_section': None,
        'glance_store': {'filesystem_store_datadirs': ['/a:200', '/b:100']}},
        header=['first line', '', 'third'])
    assert text == (
        '# first line\n#\n# third\n'
        '\n[DEFAULT]\nbind_port = 9292\ndebug = false\nflavor =\nformats = raw,qcow2\n'
        'none =\nlimits = a:1,b:true\n'
        '\n[glance_store]\nfilesystem_store_datadirs = /a:200\n'
        'filesystem_store_datadirs = /b:100\n')


def test_ini_reads_back_with_configparser():
    parser = configparser.RawConfigParser(strict=False)
    url = 'mysql+pymysql://u:p@h/db?charset=utf8'
    parser.read_string(oslo_ini({'s': {'url': url, 'on': True}}))
    assert dict(parser['s']) == {'url': url, 'on': 'true'}


def test_ini_values_are_literal_for_oslo_config(tmp_path):
    # oslo.config would substitute "$word" (and fail on an unknown name): $ is escaped.
    from oslo_config import cfg
    path = tmp_path / 'x.conf'
    path.write_text(oslo_ini({'s': {'password': 'pa$word$', 'url': 'mysql://u:a$b@h/d'}}))
    assert 'password = pa$$word$$' in path.read_text()
    conf = cfg.ConfigOpts()
    conf.register_opts([cfg.StrOpt('password'), cfg.StrOpt('url')], group='s')
    conf(args=[], default_config_files=[str(path)])
    assert (conf.s.password, conf.s.url) == ('pa$word$', 'mysql://u:a$b@h/d')


def test_ini_multi_valued_options_by_name():
    sections = {'s': {'opt': ['a', 'b'], 'policy_dirs': ['p', 'q']},
                'oslo_policy': {'policy_dirs': ['p', 'q']}}
    assert oslo_ini(sections).splitlines()[2:] == [
        'opt = a,b', 'policy_dirs = p,q', '', '[oslo_policy]', 'policy_dirs = p', 'policy_dirs = q']
    assert oslo_ini(sections, multi=['opt']).splitlines()[2:4] == ['opt = a', 'opt = b']


@pytest.mark.parametrize('sections', [
    {'s': {'x': 'two\nlines'}}, {'s': {'x': ['a', 'b\nc']}}, {'s': {'bad name': 1}},
    {'s': {'a=b': 1}}, {'s]': {'x': 1}}, {'s': 'not a dict'}, ['not', 'a', 'dict']])
def test_ini_refuses_what_would_break_the_file(sections):
    with pytest.raises(AnsibleFilterError):
        oslo_ini(sections)


def test_ini_header_must_be_strings():
    # A YAML list item "written by the role: change the" is a dict, not a line.
    with pytest.raises(AnsibleFilterError):
        oslo_ini({}, header=[{'written by the role': 'change the'}])
    assert oslo_ini({}) == '\n'


# --- oslo_config: merge -------------------------------------------------------------------

BASE = {'DEFAULT': {'bind_host': '127.0.0.1', 'workers': None, 'log_file': '/var/log/x'},
        'paste_deploy': {'flavor': ''}}


def test_overrides_merge_option_by_option_and_null_removes():
    conf = oslo_config(BASE, {'DEFAULT': {'workers': 4, 'log_file': None, 'new': 'x'},
                              'cors': {'allowed_origin': 'https://a'}})
    assert conf['DEFAULT'] == {'bind_host': '127.0.0.1', 'workers': 4, 'log_file': None,
                               'new': 'x'}
    assert list(conf) == ['DEFAULT', 'paste_deploy', 'cors']
    assert oslo_ini(conf).splitlines()[1:5] == ['[DEFAULT]', 'bind_host = 127.0.0.1',
                                                'workers = 4', 'new = x']


def test_later_overrides_win_and_a_null_section_goes():
    conf = oslo_config(BASE, {'DEFAULT': {'workers': 2}}, {'DEFAULT': {'workers': 3}},
                       {'paste_deploy': None})
    assert conf['DEFAULT']['workers'] == 3
    assert 'paste_deploy' not in conf
    assert BASE['DEFAULT']['workers'] is None           # the inputs are not changed


def test_overrides_must_be_sections():
    with pytest.raises(AnsibleFilterError, match='section'):
        oslo_config(BASE, {'DEFAULT': 'bind_host=0.0.0.0'})
    assert oslo_config(BASE, None, {}) == oslo_config(BASE)


KEYSTONE = {'keystone_authtoken': {'auth_type': 'password', 'username': 'glance',
                                   'admin_user': ''}}


def test_keystone_sections_only_with_the_keystone_flavor():
    assert 'keystone_authtoken' not in oslo_config(BASE, keystone=KEYSTONE)
    conf = oslo_config(BASE, {'paste_deploy': {'flavor': 'keystone'}}, keystone=KEYSTONE)
    assert conf['keystone_authtoken'] == {'auth_type': 'password', 'username': 'glance'}
    # Overrides of [keystone_authtoken] still go in without it (the API's registry token).
    conf = oslo_config(BASE, {'keystone_authtoken': {'auth_type': 'password'}}, keystone=KEYSTONE)
    assert conf['keystone_authtoken'] == {'auth_type': 'password'}


def test_overrides_win_over_the_keystone_sections():
    keystone_base = dict(BASE, paste_deploy={'flavor': 'keystone'})
    conf = oslo_config(keystone_base, {'keystone_authtoken': {'username': 'other'}},
                       keystone=KEYSTONE)
    assert conf['keystone_authtoken']['username'] == 'other'


# --- oslo_config: the older guides' names --------------------------------------------------

def test_older_keystone_names_in_overrides():
    conf = oslo_config(dict(BASE, paste_deploy={'flavor': 'keystone'}), {'keystone_authtoken': {
        'auth_uri': 'http://ks:5000/v2.0', 'identity_uri': 'http://ks:35357/v2.0/',
        'admin_user': 'glance', 'admin_password': 'secret', 'admin_tenant_name': 'services',
        'auth_plugin': 'password'}}, keystone=KEYSTONE)
    assert conf['keystone_authtoken'] == {
        'auth_type': 'password', 'username': 'glance', 'www_authenticate_uri': 'http://ks:5000/v2.0',
        'auth_url': 'http://ks:35357/v3', 'password': 'secret', 'project_name': 'services'}


@pytest.mark.parametrize('identity_uri, auth_url', [
    ('http://ks:35357', 'http://ks:35357/v3'), ('http://ks:5000/v3/', 'http://ks:5000/v3'),
    ('https://ks/identity/v2.0', 'https://ks/identity/v3')])
def test_identity_uri_is_a_keystone_v3_auth_url(identity_uri, auth_url):
    # As the service translates it: Keystone's v2.0 API is gone.
    conf = oslo_config({'keystone_authtoken': {'identity_uri': identity_uri}})
    assert conf['keystone_authtoken'] == {'auth_url': auth_url}


def test_older_name_wins_in_the_roles_layers_todays_in_overrides():
    role = {'keystone_authtoken': {'username': 'glance', 'admin_user': 'old-guide'}}
    assert oslo_config(role)['keystone_authtoken'] == {'username': 'old-guide'}
    assert oslo_config({}, role)['keystone_authtoken'] == {'username': 'glance'}
    # An empty older name is "not set".
    assert oslo_config({'keystone_authtoken': {'username': 'glance', 'admin_user': ''}}) == {
        'keystone_authtoken': {'username': 'glance'}}


def test_sql_connection_and_notification_driver():
    conf = oslo_config({'database': {'connection': 'sqlite://'}}, {'DEFAULT': {
        'sql_connection': 'mysql+pymysql://g:x@db/glance', 'notification_driver': 'messagingv2'}})
    assert conf == {'database': {'connection': 'mysql+pymysql://g:x@db/glance'},
                    'DEFAULT': {}, 'oslo_messaging_notifications': {'driver': 'messagingv2'}}
    conf = oslo_config({}, {'database': {'sql_connection': 'sqlite:///a'}})
    assert conf == {'database': {'connection': 'sqlite:///a'}}


NOTIFY = {'oslo_messaging_notifications': {'driver': 'messagingv2'}}


def test_rabbit_options_become_transport_url():
    conf = oslo_config(
        {'DEFAULT': {'transport_url': None, 'rabbit_host': '', 'rabbit_hosts': [],
                     'rabbit_port': 5672, 'rabbit_userid': 'guest', 'rabbit_password': '',
                     'rabbit_virtual_host': '/'}},
        {'DEFAULT': {'rabbit_host': 'rabbit.example.net', 'rabbit_userid': 'openstack',
                     'rabbit_password': 'p@ss/word:1', 'notification_driver': 'messaging'},
         'oslo_messaging_rabbit': {'rabbit_virtual_host': 'openstack', 'rabbit_ha_queues': True}})
    assert conf == {
        'DEFAULT': {'transport_url':
                    'rabbit://openstack:p%40ss%2Fword%3A1@rabbit.example.net:5672/openstack'},
        'oslo_messaging_rabbit': {'rabbit_ha_queues': True},
        'oslo_messaging_notifications': {'driver': 'messaging'}}


def test_rabbit_without_hosts_writes_nothing_and_a_given_transport_url_wins():
    assert oslo_config({'DEFAULT': {'rabbit_port': 5672, 'rabbit_userid': 'guest'}}, NOTIFY) == {
        'DEFAULT': {}, **NOTIFY}
    conf = oslo_config({'DEFAULT': {'transport_url': 'rabbit://a@b:1/'}},
                       {'DEFAULT': {'rabbit_host': 'other'}}, NOTIFY)
    assert conf['DEFAULT'] == {'transport_url': 'rabbit://a@b:1/'}


@pytest.mark.parametrize('driver', [None, '', 'noop', ['noop']])
def test_without_notifications_no_messaging_options(driver):
    # Glint loads oslo.messaging only for a notification driver: these would be ignored.
    conf = oslo_config({'DEFAULT': {'transport_url': 'rabbit://a@b:1/', 'bind_port': 9292},
                        'oslo_messaging_rabbit': {'rabbit_quorum_queue': True},
                        'oslo_messaging_notifications': {'driver': driver}})
    assert conf == {'DEFAULT': {'bind_port': 9292},
                    'oslo_messaging_notifications': {'driver': driver}}
    conf = oslo_config({'DEFAULT': {'transport_url': 'rabbit://a@b:1/'},
                        'oslo_messaging_notifications': {'driver': ['noop', 'log']}})
    assert conf['DEFAULT'] == {'transport_url': 'rabbit://a@b:1/'}
    assert oslo_ini(conf).splitlines()[-2:] == ['driver = noop', 'driver = log']


@pytest.mark.parametrize('rabbit, url', [
    ({'rabbit_hosts': ['r1', 'r2:5673', '[fd00::1]'], 'rabbit_userid': 'glance',
      'rabbit_password': 'pw'}, 'rabbit://glance:pw@r1:5672,glance:pw@r2:5673,glance:pw@[fd00::1]:5672/'),
    ({'rabbit_hosts': ' r1 , r2 ,', 'rabbit_port': 5671}, 'rabbit://guest@r1:5671,guest@r2:5671/'),
    ({'rabbit_hosts': ['r1'], 'rabbit_userid': '', 'rabbit_virtual_host': 'a/b'}, 'rabbit://r1:5672/a%2Fb'),
    ({'rabbit_hosts': []}, None),
])
def test_rabbit_transport_url(rabbit, url):
    assert rabbit_transport_url(rabbit) == url


def test_rabbit_hosts_wins_over_rabbit_host_in_one_layer_later_layers_over_earlier():
    role = {'DEFAULT': {'rabbit_hosts': ['a', 'b'], 'rabbit_host': 'c'}, **NOTIFY}
    assert oslo_config(role)['DEFAULT']['transport_url'] == 'rabbit://guest@a:5672,guest@b:5672/'
    conf = oslo_config(role, {'oslo_messaging_rabbit': {'rabbit_host': 'd'}})
    assert conf['DEFAULT']['transport_url'] == 'rabbit://guest@d:5672/'


# --- oslo_has_secret ------------------------------------------------------------------------

@pytest.mark.parametrize('sections, secret', [
    ({'DEFAULT': {'bind_host': '0.0.0.0'}, 'database': {'connection': 'sqlite:///x'}}, False),
    ({'keystone_authtoken': {'password': 'x'}}, True),
    ({'keystone_authtoken': {'password': ''}}, False),
    ({'keystone_authtoken': {'password': None}}, False),
    ({'s3': {'s3_store_secret_key': 'k'}}, True),
    ({'database': {'connection': 'mysql+pymysql://glance:pw@db/glance'}}, True),
    ({'DEFAULT': {'transport_url': 'rabbit://guest@r1:5672/'}}, False),
    ({'DEFAULT': {'transport_url': 'rabbit://u:p@r1:5672/'}}, True),
    ({'x': None}, False),
])
def test_has_secret(sections, secret):
    assert oslo_has_secret(sections) is secret
