"""Which store drivers are configured, found by entry point (group glint.store.drivers).

Configured as most glance-api.conf files still do it: ``[glance_store] stores``,
``default_store`` and each driver's options in ``[glance_store]``.
"""
from __future__ import annotations

import importlib.metadata
import urllib.parse

from oslo_config import cfg
from stevedore import driver

from glint.common import exception
from glint.store import base

ENTRY_POINTS = 'glint.store.drivers'
GROUP = 'glance_store'

# glance_store's class paths and aliases that old configs list in ``stores``.
LEGACY_NAMES = {
    'filesystem': 'file',
    'glance.store.filesystem.store': 'file',
    'glance_store._drivers.filesystem.store': 'file',
    'glance.store.http.store': 'http',
    'glance_store._drivers.http.store': 'http',
    'https': 'http',
    'glance.store.rbd.store': 'rbd',
    'glance_store._drivers.rbd.store': 'rbd',
    'glance.store.s3.store': 's3',
    'glance_store._drivers.s3.store': 's3',
}

store_opts = [
    cfg.ListOpt('stores', default=['file', 'http'], help='Enabled store drivers.'),
    cfg.StrOpt('default_store', default='file', help='Where new image data goes.'),
    cfg.StrOpt('default_backend', help='Multi-store: the backend new images go to '
                                       '(not served yet: Glint refuses it).'),
]
# Glance's multi-store switch: registered so that Glint can refuse it by name instead of
# writing every image to the single store while the operator expects several.
multi_store_opts = [
    cfg.DictOpt('enabled_backends', help='Multi-store backends "id:type,..." (not '
                                         'served yet: Glint refuses it).'),
]


def _canonical(name: str) -> str:
    name = name.strip()
    return LEGACY_NAMES.get(name.lower(), name)


def _entry_point_names() -> list[str]:
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)})


def _driver_class(name: str) -> type[base.Store]:
    try:
        return driver.DriverManager(ENTRY_POINTS, name, invoke_on_load=False).driver
    except Exception:
        raise exception.InvalidConfig(
            GROUP, 'stores', 'Glint has no store driver "%s" (it has: %s).'
            % (name, ', '.join(_entry_point_names())))


class Stores:
    """The configured drivers: one for writing new images, all for reading."""

    def __init__(self, conf: cfg.ConfigOpts):
        conf.register_opts(store_opts, group=GROUP)
        conf.register_opts(multi_store_opts)
        _refuse_multi_store(conf)
        names = dict.fromkeys(_canonical(n) for n in conf[GROUP].stores)
        self.by_name: dict[str, base.Store] = {}
        for name in names:
            cls = _driver_class(name)
            conf.register_opts(cls.opts, group=GROUP)
            self.by_name[name] = cls(conf, GROUP)
        self.default_name = _canonical(conf[GROUP].default_store)
        if self.default_name not in self.by_name:
            raise exception.InvalidConfig(
                GROUP, 'default_store', '"%s" is not among the enabled stores (%s).'
                % (self.default_name, ', '.join(names)))
        self.by_scheme = {scheme: store for store in self.by_name.values()
                          for scheme in store.schemes}

    def configure(self) -> None:
        for store in self.by_name.values():
            store.configure()

    @property
    def default(self) -> base.Store:
        return self.by_name[self.default_name]

    def for_url(self, url: str) -> base.Store:
        scheme = urllib.parse.urlsplit(url).scheme
        try:
            return self.by_scheme[scheme]
        except KeyError:
            raise exception.NotFound('No store serves locations of scheme "%s".' % scheme)


def _refuse_multi_store(conf: cfg.ConfigOpts) -> None:
    why = ('multi-store is not served by Glint yet: configure one store with '
           '[glance_store] stores and default_store.')
    if conf.enabled_backends:
        raise exception.InvalidConfig(None, 'enabled_backends', why)
    if conf[GROUP].default_backend:
        raise exception.InvalidConfig(GROUP, 'default_backend', why)


def list_opts():
    opts = list(store_opts)
    for name in ('file', 'http', 'rbd', 's3'):
        opts += _driver_class(name).opts
    return [('DEFAULT', multi_store_opts), (GROUP, opts)]
