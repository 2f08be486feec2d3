"""Which stores are configured: drivers found by entry point (group glint.store.drivers).

Two ways, as in Glance:

- single store (most glance-api.conf files): ``[glance_store] stores``,
  ``default_store`` and every driver's options in ``[glance_store]``; a backend's id
  is its driver's name and locations carry no store id;
- multi-store: ``[DEFAULT] enabled_backends = id:type,...``, ``[glance_store]
  default_backend``, and a section per backend id with its driver's options plus
  ``store_description`` and ``weight``; every location names its backend
  (``metadata.store``), and downloads try the heaviest backend first.

The reserved ``os_glance_*`` backends (staging and tasks of interoperable import)
belong to the import machinery, not to the stores images live in.
"""
from __future__ import annotations

import dataclasses
import importlib.metadata
import urllib.parse

from oslo_config import cfg
from stevedore import driver

from glint.common import exception
from glint.store import base

ENTRY_POINTS = 'glint.store.drivers'
GROUP = 'glance_store'
RESERVED_PREFIX = 'os_glance_'

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
    cfg.ListOpt('stores', default=['file', 'http'],
                help='Single store: the enabled store drivers.'),
    cfg.StrOpt('default_store', default='file',
               help='Single store: where new image data goes.'),
    cfg.StrOpt('default_backend', help='Multi-store: the backend new image data goes '
                                       'to when the upload names none.'),
]
multi_store_opts = [
    cfg.DictOpt('enabled_backends', help='Multi-store: the backends, "id:type,...".'),
]
backend_opts = [
    cfg.StrOpt('store_description', help='What /v2/info/stores says of this backend.'),
    cfg.IntOpt('weight', default=0, help='Downloads try the locations of heavier '
                                         'backends first.'),
]


@dataclasses.dataclass
class Backend:
    id: str
    type: str
    store: base.Store
    description: str | None = None
    weight: int = 0


def _canonical(name: str) -> str:
    name = name.strip()
    return LEGACY_NAMES.get(name.lower(), name)


def _entry_point_names() -> list[str]:
    return sorted({ep.name for ep in importlib.metadata.entry_points(group=ENTRY_POINTS)})


def _driver_class(name: str, group: str, option: str) -> type[base.Store]:
    try:
        return driver.DriverManager(ENTRY_POINTS, name, invoke_on_load=False).driver
    except Exception:
        raise exception.InvalidConfig(
            group, option, 'Glint has no store driver "%s" (it has: %s).'
            % (name, ', '.join(_entry_point_names())))


def _load(conf: cfg.ConfigOpts, backend_id: str, type_name: str, group: str,
          option: str) -> Backend:
    cls = _driver_class(type_name, group if group == GROUP else None, option)
    conf.register_opts(cls.opts, group=group)
    if group == GROUP:
        return Backend(backend_id, type_name, cls(conf, group))
    conf.register_opts(backend_opts, group=group)
    section = conf[group]
    return Backend(backend_id, type_name, cls(conf, group), section.store_description,
                   section.weight)


class Stores:
    """The configured backends: one receives new images, all serve their locations."""

    def __init__(self, conf: cfg.ConfigOpts):
        conf.register_opts(store_opts, group=GROUP)
        conf.register_opts(multi_store_opts)
        self.multi = bool(conf.enabled_backends)
        if self.multi:
            self.backends = {
                name: _load(conf, name, _canonical(kind), name, 'enabled_backends')
                for name, kind in conf.enabled_backends.items()
                if not name.startswith(RESERVED_PREFIX)}
            self.default_id = conf[GROUP].default_backend
            option = 'default_backend'
            if not self.default_id:
                raise exception.InvalidConfig(GROUP, option, 'not set: multi-store needs '
                                              'the backend new image data goes to.')
        else:
            names = dict.fromkeys(_canonical(n) for n in conf[GROUP].stores)
            self.backends = {name: _load(conf, name, name, GROUP, 'stores')
                             for name in names}
            self.default_id = _canonical(conf[GROUP].default_store)
            option = 'default_store'
        if self.default_id not in self.backends:
            raise exception.InvalidConfig(
                GROUP, option, '"%s" is not among the %s (%s).'
                % (self.default_id, 'enabled backends' if self.multi else 'enabled stores',
                   ', '.join(self.backends)))
        if self.backends[self.default_id].store.read_only:
            raise exception.InvalidConfig(GROUP, option, '"%s" is read-only: new image '
                                          'data cannot go there.' % self.default_id)

    def configure(self) -> None:
        for backend in self.backends.values():
            backend.store.configure()

    def for_upload(self, backend_id: str | None) -> tuple[str, base.Store]:
        """(id, store) for new data: the named backend (multi-store) or the default."""
        backend_id = backend_id if self.multi and backend_id else self.default_id
        backend = self.backends.get(backend_id)
        if backend is None:
            raise exception.BadRequest('Unknown store "%s": this cloud has %s.'
                                       % (backend_id, ', '.join(self.backends)))
        if backend.store.read_only:
            raise exception.BadRequest('Store "%s" is read-only.' % backend_id)
        return backend_id, backend.store

    def location_metadata(self, backend_id: str) -> dict:
        """What a new location records of its backend (Glance: only in multi-store)."""
        return {'store': backend_id} if self.multi else {}

    def for_location(self, location: dict) -> base.Store:
        """The store serving one of an image's locations."""
        backend = self.backends.get((location.get('metadata') or {}).get('store', ''))
        if backend is not None:
            return backend.store
        url = location['url']
        scheme = urllib.parse.urlsplit(url).scheme
        for backend in self.backends.values():
            if scheme in backend.store.schemes and backend.store.owns(url):
                return backend.store
        raise exception.NotFound('No store serves location %s.' % url)

    def by_weight(self, locations: list[dict]) -> list[dict]:
        """Locations in the order downloads try them: heaviest backend first."""
        def weight(location):
            backend = self.backends.get((location.get('metadata') or {}).get('store', ''))
            return backend.weight if backend else 0
        return sorted(locations, key=weight, reverse=True)


def list_opts():
    opts = list(store_opts)
    for name in ('file', 'http', 'rbd', 's3'):
        opts += _driver_class(name, GROUP, 'stores').opts
    return [('DEFAULT', multi_store_opts), (GROUP, opts)]
