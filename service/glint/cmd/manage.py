"""glance-manage: database schema and maintenance commands."""
from __future__ import annotations

import sys

from oslo_config import cfg

from glint.common import config
from glint.db.sqlalchemy import api as sql_api
from glint.db.sqlalchemy import migrate

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
