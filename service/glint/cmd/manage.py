"""glance-manage: database schema and maintenance commands, and the image data no
image owns."""
from __future__ import annotations

import sys

from oslo_config import cfg

from glint.common import config, exception
from glint.db import api as db_api
from glint.db.sqlalchemy import api as sql_api
from glint.db.sqlalchemy import migrate
from glint.store import base
from glint.store.backend import Stores

CONF = cfg.CONF


def _engine():
    if not CONF.database.connection:
        sys.exit('glance-manage: [database] connection is not set.')
    return sql_api.create_engine(CONF.database.connection, CONF)


def db_sync() -> None:
    migrate.upgrade(_engine())
    print('Database is synced successfully.')


def db_version() -> None:
    print(migrate.current(_engine()) or 'None')


def db_purge() -> None:
    age = CONF.command.age_in_days
    if age < 0:
        sys.exit('glance-manage: --age-in-days must be 0 or more.')
    purged = sql_api.Database(_engine()).purge(age, CONF.command.max_rows)
    print('Purged %d deleted images (and their properties, tags, members, locations) '
          'older than %d days.' % (purged, age))


def image_orphans() -> None:
    """Data in the writable backends that no image owns: neither a live image's
    location nor an upload under way (an image in saving, named by its id). The
    database is read after the store is listed, and read again before anything is
    removed, so data written meanwhile is never taken for an orphan; drivers never
    overwrite data, so an upload cannot reuse a name between that read and the
    removal."""
    stores, db = Stores(CONF), db_api.load(CONF)
    delete = CONF.command.delete
    found = failed = 0
    for backend in stores.backends.values():
        if backend.store.read_only:
            continue
        try:
            orphans = _orphans(stores, backend.store, db)
            if delete:      # only what is still nobody's
                orphans = _unowned(stores, backend.store, db.data_owners(), orphans)
        except (exception.GlintError, NotImplementedError) as e:
            print('%s: cannot list its data: %s' % (backend.id, getattr(e, 'msg', e)))
            failed += 1
            continue
        for held in orphans:
            found += 1
            size = '?' if held.size is None else '%d bytes' % held.size
            if delete:
                try:
                    backend.store.remove(held)
                except exception.GlintError as e:
                    print('%s: %s (%s): NOT removed: %s' % (backend.id, held.url, size,
                                                           e.msg))
                    failed += 1
                    continue
            print('%s: %s (%s)%s' % (backend.id, held.url, size,
                                     ': removed' if delete else ''))
    print('%d piece(s) of data no image owns%s.'
          % (found, '' if delete else ' (dry run: --delete removes them)'))
    if failed:
        sys.exit(1)


def _orphans(stores: Stores, store: base.Store, db) -> list[base.Held]:
    held = list(store.held())         # before the database: see the docstring above
    return _unowned(stores, store, db.data_owners(), held)


def _unowned(stores: Stores, store: base.Store, owners: dict,
             held: list[base.Held]) -> list[base.Held]:
    owned = set()
    for location in owners['locations']:
        try:
            if stores.for_location(location) is store:
                owned.add(store.key(location['url']))
        except exception.GlintError:
            continue          # a location no backend here serves (or unparsable)
    uploading = set(owners['uploading'])
    return [h for h in held if h.name not in uploading and store.key(h.url) not in owned]


def _add_commands(subparsers) -> None:
    db = subparsers.add_parser('db', help='Database schema and maintenance.')
    actions = db.add_subparsers(dest='action', required=True)
    actions.add_parser('sync', help='Create or upgrade the schema.').set_defaults(
        func=db_sync)
    actions.add_parser('version', help='Print the schema revision.').set_defaults(
        func=db_version)
    purge = actions.add_parser('purge', help='Remove images deleted long ago.')
    purge.add_argument('--age-in-days', type=int, default=30)
    purge.add_argument('--max-rows', type=int, default=None)
    purge.set_defaults(func=db_purge)
    image = subparsers.add_parser('image', help='Image data in the stores.')
    image_actions = image.add_subparsers(dest='action', required=True)
    orphans = image_actions.add_parser(
        'orphans', help='List the data of the writable backends that no image owns; '
                        'with --delete, remove it.')
    orphans.add_argument('--delete', action='store_true',
                         help='Remove the orphans (default: only list them).')
    orphans.set_defaults(func=image_orphans)


def main(argv: list[str] | None = None) -> None:
    CONF.register_cli_opt(cfg.SubCommandOpt('command', handler=_add_commands))
    # [database] is in glance-registry.conf on a registry node, in glance-api.conf
    # otherwise (read later, so it wins); glance-manage.conf may add to either.
    defaults = [f for prog in ('glance-registry', 'glance-api', 'glance-manage')
                for f in cfg.find_config_files('glance', prog)]
    config.parse_args(sys.argv[1:] if argv is None else argv, prog='glance-manage',
                      default_config_files=list(dict.fromkeys(defaults)))
    CONF.command.func()


if __name__ == '__main__':
    main()
