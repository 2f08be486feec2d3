"""Fail fast: what glance-api and glance-registry refuse to start with.

A setting Glint cannot honour (a store it has no driver for, a paste flavor it cannot
build, a value out of range, an old option name it cannot translate, a database driver
that is not installed) stops the service before it serves anything,
with one line per problem naming the option and the file it came from. Options Glint
does not use at all are harmless and only noted. ``glance-api --check-config`` runs
the same checks and stops.
"""
from __future__ import annotations

import hashlib
import importlib
import re
import sys
from collections.abc import Callable, Iterator

import sqlalchemy.engine
import sqlalchemy.exc
from oslo_config import cfg
from oslo_log import log as logging
from paste.deploy import loadwsgi

from glint import notifier
from glint.common import config, exception, legacy, server
from glint.db import api as db_api
from glint.domain.limits import parse_size
from glint.store.backend import Stores

LOG = logging.getLogger(__name__)

# Flavors upstream Glance ships that Glint does not serve, and why (the bundled paste
# file has the others: none and "keystone").
UPSTREAM_FLAVORS = {
    'caching': 'the image cache is not served by Glint yet',
    'cachemanagement': 'the image cache is not served by Glint yet',
    'trusted-auth': ('it takes the caller\'s identity from request headers anyone can '
                     'send; use "keystone"'),
}


cli_opts = [
    cfg.BoolOpt('check-config', default=False,
                help='Check the configuration as at start-up, print the result and '
                     'exit (status 1 when the service would refuse to start).'),
]


class ConfigProblems(Exception):
    """The service must not start; str() is one line per problem."""


def _where(conf: cfg.ConfigOpts, group: str | None, option: str) -> str:
    """' in FILE' when the option was set in a config file."""
    try:
        location = conf.get_location(option, group)
        detail = location.detail if location and location.location == cfg.Locations.user \
            else None
    except (cfg.NoSuchOptError, cfg.NoSuchGroupError):
        detail = None
    except ValueError as e:     # a bad value: oslo.config names the file in its message
        found = re.search(r"detail='([^']*)'", str(e))
        detail = found and found.group(1)
    return ' in %s' % detail if detail else ''


def problem(conf: cfg.ConfigOpts, group: str | None, option: str, why: str) -> str:
    return '[%s] %s%s: %s' % (group or 'DEFAULT', option, _where(conf, group, option), why)


def _values(conf: cfg.ConfigOpts) -> list[str]:
    """Every registered option read once: oslo.config checks types and ranges on read."""
    bad = []

    def read(group, name):
        try:
            return (conf[group] if group else conf)[name]
        except ValueError as e:        # oslo.config's ConfigFileValueError among them
            bad.append(problem(conf, group, name, str(e).rpartition(' is not valid: ')[2]))

    for name in list(conf):
        value = read(None, name)
        if isinstance(value, cfg.ConfigOpts.GroupAttr):
            for option in list(value):
                read(name, option)
    return bad


def _paste(conf: cfg.ConfigOpts, service: str) -> Iterator[str]:
    flavor = (conf.paste_deploy.flavor or '').strip()
    for part in flavor.split('+'):
        if part in UPSTREAM_FLAVORS:
            yield problem(conf, 'paste_deploy', 'flavor', '"%s" is not served: %s.'
                          % (flavor, UPSTREAM_FLAVORS[part]))
            return
    path = server.paste_file(conf, service)
    name = service + ('-' + flavor if flavor else '')
    try:
        _load_context(path, name)
    except Exception as e:      # paste raises LookupError, ImportError, ValueError, ...
        yield problem(conf, 'paste_deploy', 'flavor', 'pipeline "%s" of %s cannot be '
                      'built: %s' % (name, path, str(e).splitlines()[0]))


def _load_context(path: str, name: str) -> None:
    """Resolve a paste pipeline without building it: every factory is imported, and
    the apps a composite (urlmap) names are resolved too."""
    context = loadwsgi.loadcontext(loadwsgi.APP, 'config:' + path, name=name)
    if context.protocol == 'paste.composite_factory':
        for target in context.local_conf.values():
            _load_context(path, target)


def _keystone(conf: cfg.ConfigOpts) -> Iterator[str]:
    """The keystone flavors need a service user, or every request would be a 500."""
    if 'keystone' not in (conf.paste_deploy.flavor or ''):
        return
    from keystoneauth1 import loading
    loading.register_auth_conf_options(conf, legacy.AUTH)
    if not conf[legacy.AUTH].auth_type:
        yield problem(conf, legacy.AUTH, 'auth_type', 'not set: tokens cannot be '
                      'validated without a service user (auth_type = password, auth_url, '
                      'username, password, project_name, user_domain_name, '
                      'project_domain_name).')


def _database(conf: cfg.ConfigOpts) -> Iterator[str]:
    name = db_api.DATA_API_ALIASES.get(conf.data_api, conf.data_api)
    try:
        module = importlib.import_module(name)
    except ImportError:
        yield problem(conf, None, 'data_api', 'no module "%s" (Glint has %s).'
                      % (conf.data_api, ', '.join(db_api.DATA_API_ALIASES)))
        return
    if name != 'glint.db.sqlalchemy.api':      # the registry client: its options
        for group, opts in module.list_opts():
            conf.register_opts(opts, group=None if group == 'DEFAULT' else group)
        return
    url = conf.database.connection
    if not url:
        yield problem(conf, 'database', 'connection', 'not set.')
        return
    try:
        sqlalchemy.engine.make_url(url).get_dialect().import_dbapi()
    except (sqlalchemy.exc.ArgumentError, sqlalchemy.exc.NoSuchModuleError,
            ImportError) as e:
        yield problem(conf, 'database', 'connection', 'cannot be used (%s); Glint has '
                      'sqlite://, mysql+pymysql:// and postgresql+psycopg://.' % e)


def _api(conf: cfg.ConfigOpts) -> Iterator[str]:
    try:
        Stores(conf)
    except exception.InvalidConfig as e:
        yield problem(conf, e.group, e.option, e.msg)
    try:
        hashlib.new(conf.hashing_algorithm)
    except ValueError:
        yield problem(conf, None, 'hashing_algorithm', 'hashlib has no "%s".'
                      % conf.hashing_algorithm)
    try:
        parse_size(conf.user_storage_quota)
    except ValueError:
        yield problem(conf, None, 'user_storage_quota', '"%s" is not a size (bytes, or '
                      'a number with B, KB, MB, GB or TB).' % conf.user_storage_quota)


def _register_messaging(conf: cfg.ConfigOpts) -> None:
    """With a notification driver, oslo.messaging's options are glance-api's too:
    registered (with Glint's defaults first) so that their values are checked and none
    of them is noted as unused."""
    if notifier.configured_drivers(conf):
        notifier.set_defaults()
        from oslo_messaging import opts
        for group, group_opts in opts.list_opts():
            conf.register_opts(group_opts, group=None if group == 'DEFAULT' else group)


def _tls(conf: cfg.ConfigOpts) -> Iterator[str]:
    for option, why in server.tls_problems(conf):
        yield problem(conf, None, option, why)


SERVICE_CHECKS: dict[str, list[Callable]] = {
    'glance-api': [_api, _database, _keystone, _tls],
    'glance-registry': [_database, _keystone, _tls],
}


def problems(conf: cfg.ConfigOpts, service: str) -> list[str]:
    """Translate old option names, then everything ``service`` cannot honour."""
    try:
        legacy.translate(conf)
    except legacy.Problem as e:
        return [str(e)]
    if service == 'glance-api':
        _register_messaging(conf)
    found = []
    for check in SERVICE_CHECKS[service] + [lambda c: _paste(c, service), _values]:
        found += check(conf)
    return found


def notes(conf: cfg.ConfigOpts) -> list[str]:
    """Options of the files that Glint does not use (harmless: noted, not refused)."""
    return ['[%s] %s is not used by Glint; ignored.' % item
            for item in config.unused_options(conf, legacy.NAMES)]


def enforce(conf: cfg.ConfigOpts, service: str) -> None:
    """Raise ConfigProblems unless ``service`` can start as configured;
    log the unused options once. Once per process: workers forked from a checked
    master do not check again."""
    if (id(conf), service) in _enforced:
        return
    found = problems(conf, service)
    if found:
        raise ConfigProblems('\n'.join('%s: ERROR: %s' % (service, p) for p in found))
    if not getattr(conf, 'check_config', False):
        for note in notes(conf):
            LOG.info(note)
    _enforced.add((id(conf), service))


_enforced: set[tuple[int, str]] = set()


def at_start(conf: cfg.ConfigOpts, service: str) -> None:
    """The service command's first step: exit 1 with the problems, or with the verdict
    and the notes under --check-config; otherwise return and let it start."""
    try:
        enforce(conf, service)
    except ConfigProblems as e:
        sys.exit(str(e))
    if conf.check_config:
        for note in notes(conf):
            print('%s: NOTE: %s' % (service, note))
        print('%s: configuration OK' % service)
        sys.exit(0)
