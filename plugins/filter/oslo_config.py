# Copyright: Glint developers
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""oslo.config files from dicts: the one rendering path of every ini file the roles write.

A configuration is a dict of sections, each a dict of options. ``oslo_config`` merges the
role's sections, its Keystone sections (only with ``[paste_deploy] flavor = keystone``) and
the operator's overrides, and maps the older install guides' option names to today's;
``oslo_ini`` writes the result; ``oslo_has_secret`` tells whether it holds a secret.
What Glint would ignore is left out: [DEFAULT] transport_url and [oslo_messaging_rabbit]
without a notification driver (Glint loads oslo.messaging only for one).

Overrides follow OpenStack-Ansible's config_template: they are merged option by option
into the sections, and a list is written comma-separated. Unlike config_template, a null
value removes an option (a null section removes the section), and multi-valued options
(MultiStrOpt) keep the order given, one line per item.
"""

import re
import urllib.parse
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

# MultiStrOpt options the roles may write: one "name = item" line per list item.
MULTI_OPTIONS = frozenset({('glance_store', 'filesystem_store_datadirs'),
                           ('oslo_policy', 'policy_dirs'),
                           ('oslo_messaging_notifications', 'driver')})

# Older guides' options that no current library reads, and where their values go today.
MOVED = {
    ('keystone_authtoken', 'auth_uri'): ('keystone_authtoken', 'www_authenticate_uri'),
    ('keystone_authtoken', 'identity_uri'): ('keystone_authtoken', 'auth_url'),
    ('keystone_authtoken', 'admin_user'): ('keystone_authtoken', 'username'),
    ('keystone_authtoken', 'admin_password'): ('keystone_authtoken', 'password'),
    ('keystone_authtoken', 'admin_tenant_name'): ('keystone_authtoken', 'project_name'),
    ('keystone_authtoken', 'auth_plugin'): ('keystone_authtoken', 'auth_type'),
    ('DEFAULT', 'sql_connection'): ('database', 'connection'),
    ('database', 'sql_connection'): ('database', 'connection'),
    ('DEFAULT', 'notification_driver'): ('oslo_messaging_notifications', 'driver'),
}
# Older guides' RabbitMQ options ([DEFAULT] or [oslo_messaging_rabbit]): [DEFAULT]
# transport_url is built from them unless one is given.
RABBIT_OPTIONS = ('rabbit_host', 'rabbit_hosts', 'rabbit_port', 'rabbit_userid',
                  'rabbit_password', 'rabbit_virtual_host')
RABBIT_SECTIONS = ('DEFAULT', 'oslo_messaging_rabbit')

# oslo.messaging is loaded only for a notification driver: without one these are unused.
NOTIFICATIONS = 'oslo_messaging_notifications'
MESSAGING_ONLY = (('DEFAULT', 'transport_url'), ('oslo_messaging_rabbit', None))

SECRET_OPTION = re.compile(r'(password|secret_key)$')
URL_CREDENTIALS = re.compile(r'://[^/@" ]+:[^/@" ]+@')


def _given(value):
    """An older name counts only with a value: the roles pass "" for "not set"."""
    return value is not None and value != '' and value != []


def _sections(layer, what):
    if layer is None:
        return {}
    if not isinstance(layer, Mapping):
        raise AnsibleFilterError('%s must be a dict of sections, not %r' % (what, layer))
    for name, options in layer.items():
        if options is not None and not isinstance(options, Mapping):
            raise AnsibleFilterError('%s: section [%s] must be a dict of options (or null), '
                                     'not %r' % (what, name, options))
    return layer


def _translate(layer, older_first):
    """A copy of one layer with the older names moved to today's, and its rabbit_* apart.

    In the role's own layers the older names are variables that are empty unless an
    operator sets them, so a set one wins (older_first); in overrides today's name wins.
    """
    out = {name: (dict(options) if options is not None else None)
           for name, options in layer.items()}
    rabbit = {}
    for section in RABBIT_SECTIONS:
        options = out.get(section) or {}
        for name in RABBIT_OPTIONS:
            value = options.pop(name, None)
            if _given(value):
                rabbit[name] = value
    if 'rabbit_hosts' in rabbit:
        rabbit.pop('rabbit_host', None)
    elif 'rabbit_host' in rabbit:
        rabbit['rabbit_hosts'] = rabbit.pop('rabbit_host')
    for (section, old), (new_section, new) in MOVED.items():
        value = (out.get(section) or {}).pop(old, None)
        if not _given(value):
            continue
        target = out.get(new_section)
        if target is None:
            target = out[new_section] = {}
        if older_first or new not in target:
            target[new] = _keystone_v3(value) if old == 'identity_uri' else value
    return out, rabbit


def _keystone_v3(url):
    """identity_uri (unversioned or /v2.0, gone from Keystone) as a v3 auth_url, as the
    service itself translates it."""
    url = str(url).rstrip('/')
    if url.endswith('/v2.0'):
        url = url[:-len('/v2.0')]
    return url if url.endswith('/v3') else url + '/v3'


def _merge(into, layer):
    """Option by option; None values stay (the writer leaves them out) so that an
    option keeps its place; a None section removes the section."""
    for name, options in layer.items():
        if options is None:
            into.pop(name, None)
        else:
            into.setdefault(name, {}).update(options)


def _quote(value):
    return urllib.parse.quote(str(value), safe='')


def _host_list(hosts):
    items = hosts.split(',') if isinstance(hosts, str) else hosts
    return [str(h).strip() for h in items if str(h).strip()]


def rabbit_transport_url(rabbit):
    """rabbit://user:pass@host:port,.../vhost from the older guides' rabbit_* options."""
    hosts = _host_list(rabbit.get('rabbit_hosts') or [])
    if not hosts:
        return None
    port = rabbit.get('rabbit_port', 5672)
    user = str(rabbit.get('rabbit_userid', 'guest') or '')
    password = str(rabbit.get('rabbit_password') or '')
    credentials = _quote(user) + (':' + _quote(password) if password else '')
    netlocs = [(credentials + '@' if credentials else '') + h
               + ('' if re.search(r':[0-9]+$', h) else ':%s' % port) for h in hosts]
    vhost = str(rabbit.get('rabbit_virtual_host', '/') or '/')
    return 'rabbit://%s/%s' % (','.join(netlocs), '' if vhost == '/' else _quote(vhost))


def _combine(layers):
    conf, rabbit = {}, {}
    for layer, older_first in layers:
        sections, layer_rabbit = _translate(layer, older_first)
        _merge(conf, sections)
        rabbit.update(layer_rabbit)
    url = rabbit_transport_url(rabbit)
    default = conf.get('DEFAULT') or {}
    if url and default.get('transport_url') is None:
        conf.setdefault('DEFAULT', {})['transport_url'] = url
    if not _notifying(conf):
        for section, option in MESSAGING_ONLY:
            if option is None:
                conf.pop(section, None)
            elif section in conf:
                conf[section].pop(option, None)
    return conf


def _notifying(conf):
    """A notification driver other than noop is set ([oslo_messaging_notifications]
    driver is multi-valued)."""
    drivers = (conf.get(NOTIFICATIONS) or {}).get('driver')
    drivers = drivers if isinstance(drivers, (list, tuple)) else [drivers]
    return any(d not in (None, '', 'noop') for d in drivers)


def oslo_config(base, *overrides, keystone=None):
    """The sections of one file: base, then keystone when the merged [paste_deploy]
    flavor is keystone, then each overrides dict in turn."""
    role = [(_sections(base, 'base'), True)]
    user = [(_sections(o, 'overrides'), False) for o in overrides]
    conf = _combine(role + user)
    if keystone and (conf.get('paste_deploy') or {}).get('flavor') == 'keystone':
        conf = _combine(role + [(_sections(keystone, 'keystone'), True)] + user)
    return conf


def _scalar(value):
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def _text(value):
    if isinstance(value, Mapping):
        return ','.join('%s:%s' % (k, _scalar(v)) for k, v in value.items())
    if isinstance(value, (list, tuple)):
        return ','.join(_scalar(v) for v in value)
    return _scalar(value)


def _line(section, name, value):
    text = _text(value)
    if '\n' in text or '\r' in text:
        raise AnsibleFilterError('[%s] %s: a value on more than one line is not written'
                                 % (section, name))
    # oslo.config substitutes $name in values: a literal $ (in a password) is written $$.
    text = text.replace('$', '$$')
    return '%s =%s' % (name, ' ' + text if text else '')


def oslo_ini(sections, header=(), multi=()):
    """The ini text: null options and empty sections left out, lists comma-joined
    (MULTI_OPTIONS and the option names in multi: one line per item), dicts as
    key:value, booleans true/false, values literal ($ written $$), header as comment
    lines at the top."""
    if isinstance(header, str) or not all(isinstance(line, str) for line in header):
        raise AnsibleFilterError('oslo_ini: header must be a list of strings, not %r' % (header,))
    lines = ['# ' + line if line else '#' for line in header]
    for section, options in _sections(sections, 'oslo_ini').items():
        if re.search(r'[\]\r\n]', str(section)):
            raise AnsibleFilterError('invalid section name %r' % section)
        kept = [(k, v) for k, v in (options or {}).items() if v is not None]
        if not kept:
            continue
        lines += ['', '[%s]' % section]
        for name, value in kept:
            if re.search(r'[=:\s\[]', str(name)) or not str(name):
                raise AnsibleFilterError('[%s]: invalid option name %r' % (section, name))
            many = (section, name) in MULTI_OPTIONS or name in multi
            if many and isinstance(value, (list, tuple)):
                lines += [_line(section, name, one) for one in value]
            else:
                lines.append(_line(section, name, value))
    return '\n'.join(lines) + '\n'


def oslo_has_secret(sections):
    """True when a password, a secret key or credentials inside a URL are set anywhere."""
    for options in _sections(sections, 'oslo_has_secret').values():
        for name, value in (options or {}).items():
            if value is None:
                continue
            if SECRET_OPTION.search(str(name)) and _text(value):
                return True
            if URL_CREDENTIALS.search(_text(value)):
                return True
    return False


class FilterModule:
    """glint.glance.oslo_config, oslo_ini and oslo_has_secret."""

    def filters(self):
        return {'oslo_config': oslo_config, 'oslo_ini': oslo_ini,
                'oslo_has_secret': oslo_has_secret}
