"""Schema migrations with Alembic: what ``glance-manage db sync|version`` run."""
from __future__ import annotations

import os

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

MIGRATIONS = os.path.join(os.path.dirname(__file__), 'migrations')


def _config(connection) -> Config:
    config = Config()
    config.set_main_option('script_location', MIGRATIONS)
    config.attributes['connection'] = connection
    return config


def upgrade(engine: sa.Engine, revision: str = 'head') -> None:
    with engine.begin() as conn:
        command.upgrade(_config(conn), revision)


def current(engine: sa.Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head() -> str:
    return ScriptDirectory.from_config(_config(None)).get_current_head()
