"""Option names of older install guides that no current library reads any more.

The Glance architecture guide and many deployed files still carry ``[keystone_authtoken]
auth_uri / identity_uri / admin_user / admin_password / admin_tenant_name``,
``rabbit_*`` in ``[DEFAULT]`` or ``[oslo_messaging_rabbit]`` and ``[DEFAULT]
notification_driver``. keystonemiddleware and oslo.messaging dropped them, so left alone
they start a service that answers 500 to every request or sends no notification.
``translate`` turns them into today's options (with one deprecation warning each), or
says why it cannot: both an old and a new name for the same thing.
"""
from __future__ import annotations

import configparser
import urllib.parse

from oslo_config import cfg
from oslo_log import log as logging

from glint.common import config

LOG = logging.getLogger(__name__)

AUTH = 'keystone_authtoken'
RABBIT = 'oslo_messaging_rabbit'
NOTIFICATIONS = 'oslo_messaging_notifications'
RABBIT_OPTIONS = ('rabbit_host', 'rabbit_hosts', 'rabbit_port', 'rabbit_userid',
                  'rabbit_password', 'rabbit_virtual_host')
AUTH_OPTIONS = ('auth_uri', 'identity_uri', 'admin_user', 'admin_password',
                'admin_tenant_name', 'auth_plugin')
# (section, option) of every name translated here; config.unused_options skips them.
NAMES = frozenset([(AUTH, o) for o in AUTH_OPTIONS]
                  + [(s, o) for s in ('DEFAULT', RABBIT) for o in RABBIT_OPTIONS]
                  + [('DEFAULT', 'notification_driver')])


class Problem(Exception):
    """A legacy option that cannot be translated; the message is one line."""


def _raw(conf: cfg.ConfigOpts) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False)
    parser.read(config.config_files(conf))
    return parser


def _section(parser, name: str) -> dict[str, str]:
    if name == 'DEFAULT':
        return dict(parser.defaults())
    if not parser.has_section(name):
        return {}
    return {k: v for k, v in parser.items(name) if k not in parser.defaults()}


def _deprecated(section: str, old: str, new: str) -> None:
    LOG.warning('[%s] %s is deprecated: Glint reads it as %s; write that instead.',
                section, old, new)


def _v3(url: str) -> str:
    """An identity URL of the old guides (unversioned or /v2.0) as a Keystone v3 one."""
    url = url.rstrip('/')
    if url.endswith('/v2.0'):
        url = url[:-len('/v2.0')]
    return url if url.endswith('/v3') else url + '/v3'


def _keystone(section: dict[str, str]) -> dict[str, str]:
    """Today's [keystone_authtoken] options for the old ones the section has."""
    mapping = {'auth_uri': 'www_authenticate_uri', 'identity_uri': 'auth_url',
               'admin_user': 'username', 'admin_password': 'password',
               'admin_tenant_name': 'project_name', 'auth_plugin': 'auth_type'}
    out = {}
    for name, modern in mapping.items():
        if name not in section:
            continue
        if modern in section:
            raise Problem('[%s] %s and %s are both set: remove %s.'
                          % (AUTH, name, modern, name))
        out[modern] = _v3(section[name]) if name == 'identity_uri' else section[name]
        _deprecated(AUTH, name, modern)
    if 'username' in out or 'password' in out:
        # The service user of the old guides authenticated with a password, against
        # Keystone v3 now (v2.0 is gone), in the default domain.
        out.setdefault('auth_type', 'password')
        if 'auth_url' not in out and 'auth_url' not in section:
            if 'auth_uri' not in section:
                raise Problem('[%s] admin_user needs identity_uri or auth_url: write '
                              'auth_url = <Keystone URL>.' % AUTH)
            out['auth_url'] = _v3(section['auth_uri'])
        for domain in ('user_domain_name', 'project_domain_name'):
            if domain not in section and domain.replace('name', 'id') not in section:
                out[domain] = 'Default'
    return out


def _quoted(text: str) -> str:
    return urllib.parse.quote(text, safe='')


def _transport_url(rabbit: dict[str, str]) -> str:
    hosts = rabbit.get('rabbit_hosts') or rabbit.get('rabbit_host') or 'localhost'
    port = rabbit.get('rabbit_port', '5672')
    user = rabbit.get('rabbit_userid', 'guest')
    password = rabbit.get('rabbit_password', 'guest')
    vhost = rabbit.get('rabbit_virtual_host', '/')
    credentials = _quoted(user) + (':' + _quoted(password) if password else '')
    netlocs = []
    for host in filter(None, (h.strip() for h in hosts.split(','))):
        has_port = host.rsplit(':', 1)[-1].isdigit() and not host.endswith(']')
        netlocs.append('%s@%s' % (credentials, host if has_port else host + ':' + port))
    return 'rabbit://%s/%s' % (','.join(netlocs), '' if vhost == '/' else _quoted(vhost))


def _register(conf: cfg.ConfigOpts, groups) -> None:
    for group, opts in groups:
        conf.register_opts(opts, group=None if group == 'DEFAULT' else group)


def _apply_keystone(conf: cfg.ConfigOpts, options: dict[str, str]) -> None:
    from keystoneauth1 import loading
    from keystonemiddleware import auth_token
    _register(conf, auth_token.list_opts())
    loading.register_auth_conf_options(conf, AUTH)
    plugin = options.get('auth_type') or conf[AUTH].auth_type
    conf.register_opts(loading.get_auth_plugin_conf_options(plugin), group=AUTH)
    for name, value in options.items():
        conf.set_override(name, value, group=AUTH)


def _apply_messaging(conf: cfg.ConfigOpts, url: str | None,
                     driver: str | None) -> None:
    """Register just the options overridden here: oslo.messaging registers the rest
    itself, after Glint has changed some of their defaults (control_exchange)."""
    from oslo_messaging import opts
    wanted = {('DEFAULT', 'transport_url'): url, (NOTIFICATIONS, 'driver'): driver and [driver]}
    for group, group_opts in opts.list_opts():
        for opt in group_opts:
            value = wanted.get((group, opt.name))
            if value:
                group_name = None if group == 'DEFAULT' else group
                conf.register_opt(opt, group=group_name)
                conf.set_override(opt.name, value, group=group_name)


def translate(conf: cfg.ConfigOpts) -> None:
    """Apply the old names found in the config files as today's; raises Problem."""
    parser = _raw(conf)
    default = _section(parser, 'DEFAULT')
    auth = _section(parser, AUTH)
    if any(name in auth for name in AUTH_OPTIONS):
        _apply_keystone(conf, _keystone(auth))

    rabbit = {k: v for k, v in {**default, **_section(parser, RABBIT)}.items()
              if k in RABBIT_OPTIONS}
    url = driver = None
    if rabbit:
        if 'transport_url' in default or 'transport_url' in _section(parser, NOTIFICATIONS):
            raise Problem('rabbit_* options and transport_url are both set: remove '
                          'the rabbit_* options.')
        url = _transport_url(rabbit)
        _deprecated('DEFAULT', '/'.join(sorted(rabbit)), 'transport_url')
    if 'notification_driver' in default:
        if 'driver' in _section(parser, NOTIFICATIONS):
            raise Problem('[DEFAULT] notification_driver and [%s] driver are both '
                          'set: remove notification_driver.' % NOTIFICATIONS)
        driver = default['notification_driver']
        _deprecated('DEFAULT', 'notification_driver', '[%s] driver' % NOTIFICATIONS)
    if url or driver:
        _apply_messaging(conf, url, driver)
