"""Direct SQL implementation of the image database (SQLite, MariaDB/MySQL, PostgreSQL)."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import select

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy import exc as sa_exc

from glint.common import exception
from glint.db.api import Filter, ListQuery, Row
from glint.db.sqlalchemy import models

LOG = logging.getLogger(__name__)
images = models.Image.__table__
props = models.ImageProperty.__table__
tags_t = models.ImageTag.__table__
members = models.ImageMember.__table__
locations = models.ImageLocation.__table__

# The upload lease columns are the data layer's own (upload_* methods), not the image's.
IMAGE_COLUMNS = [c.name for c in images.columns
                 if c.name not in ('deleted', 'upload_lease', 'upload_expires_at')]
# Sort keys that can be NULL need NULL-aware ordering and markers.
NULLABLE_SORT_KEYS = frozenset(c.name for c in images.columns if c.nullable)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def create_engine(url: str, conf=None) -> sa.Engine:
    if url.startswith('sqlite'):
        return _sqlite_engine(url)
    db = conf.database if conf else None
    psycopg = sa.engine.make_url(url).get_dialect().driver == 'psycopg'
    engine = sa.create_engine(
        url, pool_pre_ping=not psycopg,
        pool_size=db.max_pool_size if db else 5,
        max_overflow=db.max_overflow if db else 50,
        pool_timeout=db.pool_timeout if db else 30,
        pool_recycle=db.connection_recycle_time if db else 3600)
    if psycopg:
        event.listen(engine, 'checkout', _refuse_closed_by_server)
    return engine


def _refuse_closed_by_server(dbapi_conn, _record, _proxy) -> None:
    """Instead of pool_pre_ping's SELECT 1 (a round trip on every checkout, a tenth of
    an image create): an idle connection that PostgreSQL closed (restart, terminated
    backend, idle timeout) has its goodbye or EOF waiting, so one poll() finds it and
    the pool replaces it. Anything else waiting there also gets a fresh connection."""
    if dbapi_conn.closed or dbapi_conn.broken:
        raise sa_exc.DisconnectionError()
    poller = select.poll()
    poller.register(dbapi_conn.fileno(), select.POLLIN)
    if poller.poll(0):
        raise sa_exc.DisconnectionError()


def _sqlite_engine(url: str) -> sa.Engine:
    """SQLite tuned for concurrent writers: WAL, a long busy timeout, and write
    transactions that take the write lock up front (BEGIN IMMEDIATE) so two writers
    never deadlock upgrading their read locks ("database is locked")."""
    engine = sa.create_engine(url, connect_args={'timeout': 60,
                                                 'check_same_thread': False})

    @event.listens_for(engine, 'connect')
    def _on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None     # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        for pragma in ('journal_mode=WAL', 'synchronous=NORMAL', 'foreign_keys=ON',
                       'busy_timeout=60000'):
            cur.execute('PRAGMA ' + pragma)
        cur.close()

    @event.listens_for(engine, 'begin')
    def _on_begin(conn):
        write = conn.get_execution_options().get('write', False)
        conn.exec_driver_sql('BEGIN IMMEDIATE' if write else 'BEGIN')

    return engine


# The database is down, unreachable, restarting or out of connections: 503, as for any
# back end the service cannot reach, and the request can be retried.
_UNAVAILABLE = (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.DisconnectionError,
                sa_exc.TimeoutError)


@contextlib.contextmanager
def _database_errors():
    """A value the database cannot hold (NUL in a PostgreSQL string, data too long for
    a MySQL column) is the client's mistake: 400, not 500. A database that cannot be
    reached is no one's mistake: 503."""
    try:
        yield
    except sa_exc.DataError as e:
        raise exception.BadRequest('Invalid value in request: %s' % e.orig)
    except _UNAVAILABLE as e:
        LOG.warning('The image database is unavailable: %s', e)
        raise exception.ServiceUnavailable('The image database is unavailable.')


class Database:
    """The ``ImageDatabase`` of glint.db.api over one SQLAlchemy engine."""

    def __init__(self, engine: sa.Engine):
        self.engine = engine
        # PostgreSQL's READ COMMITTED gives every statement its own snapshot, in a
        # transaction or not: reads without one skip BEGIN and COMMIT, two round trips.
        self._autocommit_reads = engine.dialect.name == 'postgresql'

    @contextlib.contextmanager
    def _write(self):
        with _database_errors(), self.engine.connect() as conn:
            conn = conn.execution_options(write=True)
            with conn.begin():
                yield conn

    @contextlib.contextmanager
    def _read(self):
        with _database_errors(), self.engine.connect() as conn:
            if self._autocommit_reads:
                yield conn.execution_options(isolation_level='AUTOCOMMIT')
                return
            with conn.begin():
                yield conn

    # -- images -----------------------------------------------------------------
    def image_create(self, values: Row, properties: dict[str, str],
                     tags: list[str]) -> Row:
        now = utcnow()
        row = dict(values, created_at=now, updated_at=now, deleted=False)
        tags = list(dict.fromkeys(tags))
        try:
            with self._write() as conn:
                conn.execute(images.insert().values(**row))
                _insert_properties(conn, row['id'], properties)
                if tags:
                    conn.execute(tags_t.insert(), [{'image_id': row['id'], 'value': t}
                                                   for t in tags])
        except sa_exc.IntegrityError:
            raise exception.Conflict('Image with identifier %s already exists!'
                                     % row['id'])
        # What image_get would read back, without a second transaction.
        return {**{name: row.get(name) for name in IMAGE_COLUMNS},
                'properties': dict(properties), 'tags': tags, 'locations': []}

    def image_get(self, image_id: str) -> Row:
        if len(image_id) > images.c.id.type.length or '\x00' in image_id:
            # Never an image id (Glance's _check_image_id); PostgreSQL refuses NUL.
            raise exception.NotFound('No image found with ID %s' % image_id)
        with self._read() as conn:
            rows = _with_children(conn, [dict(r._mapping) for r in conn.execute(
                _IMAGE_BY_ID, {'image_id': image_id})])
        if not rows:
            raise exception.NotFound('No image found with ID %s' % image_id)
        return rows[0]

    def image_update(self, image_id, values, *, set_properties=None,
                     remove_properties=None, tags=None, add_locations=None,
                     remove_locations=None, expect_status=None, lease=None) -> Row:
        values = dict(values, updated_at=utcnow())
        where = [images.c.id == image_id, images.c.deleted == sa.false()]
        if expect_status:
            where.append(images.c.status.in_(expect_status))
        if lease is not None:      # the update ends that upload: only its holder may
            where.append(images.c.upload_lease == lease)
            values.update(upload_lease=None, upload_expires_at=None)
        with self._write() as conn:
            if conn.execute(images.update().where(*where).values(**values)).rowcount != 1:
                self._raise_missing_or_conflict(conn, image_id)
            if remove_properties:
                conn.execute(props.delete().where(props.c.image_id == image_id,
                                                  props.c.name.in_(remove_properties)))
            if set_properties:
                conn.execute(props.delete().where(props.c.image_id == image_id,
                                                  props.c.name.in_(set_properties)))
                _insert_properties(conn, image_id, set_properties)
            if tags is not None:
                conn.execute(tags_t.delete().where(tags_t.c.image_id == image_id))
                if tags:
                    conn.execute(tags_t.insert(), [{'image_id': image_id, 'value': t}
                                                   for t in dict.fromkeys(tags)])
            if add_locations:
                conn.execute(locations.insert(), [
                    {'image_id': image_id, 'value': url, 'meta_data': json.dumps(meta),
                     'status': 'active', 'created_at': values['updated_at']}
                    for url, meta in add_locations])
            if remove_locations:
                conn.execute(locations.update().where(
                    locations.c.image_id == image_id, locations.c.status == 'active',
                    locations.c.value.in_(remove_locations)).values(status='deleted'))
        return self.image_get(image_id)

    @staticmethod
    def _raise_missing_or_conflict(conn, image_id):
        status = conn.execute(sa.select(images.c.status).where(
            images.c.id == image_id, images.c.deleted == sa.false())).scalar()
        if status is None:
            raise exception.NotFound('No image found with ID %s' % image_id)
        raise exception.Conflict('Image %s is in status %s; the operation is not '
                                 'allowed in that status (or its upload is no longer '
                                 'this one).' % (image_id, status))

    # -- upload leases ----------------------------------------------------------
    def upload_start(self, image_id, lease, seconds) -> Row:
        now = utcnow()
        with self._write() as conn:
            if not _take_lease(conn, image_id, lease, now + dt.timedelta(seconds=seconds),
                               images.c.status == 'queued', status='saving',
                               updated_at=now):
                self._raise_missing_or_conflict(conn, image_id)
        return self.image_get(image_id)

    def upload_renew(self, image_id, lease, seconds) -> bool:
        with self._write() as conn:
            return _take_lease(conn, image_id, lease,
                               utcnow() + dt.timedelta(seconds=seconds),
                               images.c.upload_lease == lease)

    def upload_takeover(self, image_id, lease, seconds) -> bool:
        now = utcnow()
        with self._write() as conn:
            return _take_lease(conn, image_id, lease, now + dt.timedelta(seconds=seconds),
                               _lease_lost(now))

    def uploads_expired(self, limit=100) -> list[str]:
        with self._read() as conn:
            return [r.id for r in conn.execute(
                sa.select(images.c.id).where(images.c.deleted == sa.false(),
                                             _lease_lost(utcnow())).limit(limit))]

    def data_owners(self) -> Row:
        with self._read() as conn:
            alive = [images.c.deleted == sa.false()]
            owned = conn.execute(
                sa.select(locations.c.image_id, locations.c.value, locations.c.meta_data)
                .join(images, images.c.id == locations.c.image_id)
                .where(*alive, locations.c.status == 'active'))
            uploading = conn.execute(sa.select(images.c.id).where(
                *alive, images.c.status == 'saving'))
            return {'locations': [{'image_id': i, 'url': url,
                                   'metadata': json.loads(meta or '{}')}
                                  for i, url, meta in owned],
                    'uploading': [r.id for r in uploading]}

    def image_delete(self, image_id: str) -> Row:
        image = self.image_get(image_id)
        now = utcnow()
        with self._write() as conn:
            result = conn.execute(images.update().where(
                images.c.id == image_id, images.c.deleted == sa.false()).values(
                deleted=True, deleted_at=now, updated_at=now, status='deleted'))
            if result.rowcount != 1:
                raise exception.NotFound('No image found with ID %s' % image_id)
            conn.execute(locations.update().where(locations.c.image_id == image_id)
                         .values(status='deleted'))
        return dict(image, status='deleted', deleted=True, deleted_at=now)

    def image_list(self, query: ListQuery) -> list[Row]:
        with self._read() as conn:
            condition = sa.and_(*_list_conditions(query))
            order = _order_by(query.sort)
            if query.marker:
                condition = sa.and_(condition, _after_marker(conn, query))
            stmt = (sa.select(*_image_cols()).where(condition)
                    .order_by(*order).limit(query.limit))
            return _with_children(conn, [dict(r._mapping) for r in conn.execute(stmt)])

    def image_count(self, owner: str | None) -> int:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(images).where(
                images.c.owner == owner, images.c.deleted == sa.false())).scalar()

    def storage_used(self, owner, exclude_image=None) -> int:
        where = [images.c.owner == owner, images.c.deleted == sa.false()]
        if exclude_image:
            where.append(images.c.id != exclude_image)
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.coalesce(sa.func.sum(images.c.size), 0))
                                .where(*where)).scalar()

    # -- tags -----------------------------------------------------
    def image_tag_add(self, image_id, tag) -> None:
        with self._write() as conn:
            exists = conn.execute(sa.select(tags_t.c.id).where(
                tags_t.c.image_id == image_id, tags_t.c.value == tag)).first()
            if not exists:
                conn.execute(tags_t.insert().values(image_id=image_id, value=tag))
            _touch(conn, image_id)

    def image_tag_delete(self, image_id, tag) -> None:
        with self._write() as conn:
            result = conn.execute(tags_t.delete().where(
                tags_t.c.image_id == image_id, tags_t.c.value == tag))
            if result.rowcount == 0:
                raise exception.NotFound('Tag %s not found on image %s' % (tag, image_id))
            _touch(conn, image_id)

    # -- members ----------------------------------------------------------------
    def member_list(self, image_id) -> list[Row]:
        with self._read() as conn:
            return [dict(r._mapping) for r in conn.execute(
                sa.select(members).where(members.c.image_id == image_id)
                .order_by(members.c.created_at, members.c.id))]

    def member_get(self, image_id, member) -> Row:
        with self._read() as conn:
            row = conn.execute(sa.select(members).where(
                members.c.image_id == image_id, members.c.member == member)).first()
        if row is None:
            raise exception.NotFound('%s is not a member of image %s' % (member, image_id))
        return dict(row._mapping)

    def member_create(self, image_id, member) -> Row:
        now = utcnow()
        try:
            with self._write() as conn:
                conn.execute(members.insert().values(
                    image_id=image_id, member=member, status='pending', can_share=False,
                    created_at=now, updated_at=now))
        except sa_exc.IntegrityError:
            raise exception.Conflict('Member %s already exists for image %s'
                                     % (member, image_id))
        return self.member_get(image_id, member)

    def member_update(self, image_id, member, status) -> Row:
        with self._write() as conn:
            result = conn.execute(members.update().where(
                members.c.image_id == image_id, members.c.member == member).values(
                status=status, updated_at=utcnow()))
        if result.rowcount == 0:
            raise exception.NotFound('%s is not a member of image %s' % (member, image_id))
        return self.member_get(image_id, member)

    def member_delete(self, image_id, member) -> None:
        with self._write() as conn:
            result = conn.execute(members.delete().where(
                members.c.image_id == image_id, members.c.member == member))
        if result.rowcount == 0:
            raise exception.NotFound('%s is not a member of image %s' % (member, image_id))

    # -- maintenance ------------------------------------------------------------
    def purge(self, age_in_days: int, max_rows: int | None = None) -> int:
        """Remove images deleted more than ``age_in_days`` ago, children first."""
        cutoff = utcnow() - dt.timedelta(days=age_in_days)
        with self._write() as conn:
            doomed = sa.select(images.c.id).where(
                images.c.deleted == sa.true(), images.c.deleted_at < cutoff)
            if max_rows:
                doomed = doomed.limit(max_rows)
            ids = [r.id for r in conn.execute(doomed)]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                for child in (props, tags_t, members, locations):
                    conn.execute(child.delete().where(child.c.image_id.in_(chunk)))
                conn.execute(images.delete().where(images.c.id.in_(chunk)))
        return len(ids)


# -- query building -----------------------------------------------------------------
def _image_cols():
    return [images.c[name] for name in IMAGE_COLUMNS]


def _touch(conn, image_id):
    conn.execute(images.update().where(images.c.id == image_id)
                 .values(updated_at=utcnow()))


def _take_lease(conn, image_id, lease, expires, condition, **values) -> bool:
    """Give the upload of a live image matching ``condition`` to ``lease``."""
    return conn.execute(images.update().where(
        images.c.id == image_id, images.c.deleted == sa.false(), condition).values(
        upload_lease=lease, upload_expires_at=expires, **values)).rowcount == 1


def _lease_lost(now):
    """Saving with no live upload: its lease expired, or it never had one (an image
    left saving before migration 0003)."""
    return sa.and_(images.c.status == 'saving',
                   sa.or_(images.c.upload_expires_at.is_(None),
                          images.c.upload_expires_at < now))


def _insert_properties(conn, image_id, properties):
    too_long = [k for k, v in properties.items()
                if isinstance(v, str) and len(v) > models.PROPERTY_VALUE_MAX]
    if too_long:
        raise exception.BadRequest('Value of property %s is longer than %d characters.'
                                   % (too_long[0], models.PROPERTY_VALUE_MAX))
    if properties:
        conn.execute(props.insert(), [{'image_id': image_id, 'name': k, 'value': v}
                                      for k, v in properties.items()])


def _children_query() -> sa.CompoundSelect:
    ids = sa.bindparam('ids', expanding=True)
    return sa.union_all(
        sa.select(sa.literal(0).label('kind'), props.c.image_id, props.c.id,
                  props.c.name.label('a'), props.c.value.label('b'))
        .where(props.c.image_id.in_(ids)),
        sa.select(sa.literal(1), tags_t.c.image_id, tags_t.c.id, tags_t.c.value,
                  sa.null())
        .where(tags_t.c.image_id.in_(ids)),
        sa.select(sa.literal(2), locations.c.image_id, locations.c.id, locations.c.value,
                  locations.c.meta_data)
        .where(locations.c.image_id.in_(ids), locations.c.status == 'active'),
    ).order_by('kind', 'id')


# Built once: SQLAlchemy memoizes a statement's cache key, so reusing the object also
# skips re-deriving it on every request.
_CHILDREN = _children_query()
_IMAGE_BY_ID = sa.select(*_image_cols()).where(images.c.id == sa.bindparam('image_id'),
                                               images.c.deleted == sa.false())


def _with_children(conn, rows: list[Row]) -> list[Row]:
    """Attach properties, tags and locations to image rows: one query for all three
    (a round trip each is most of a show on a networked database)."""
    if not rows:
        return rows
    by_id = {}
    for row in rows:
        row.update(properties={}, tags=[], locations=[])
        by_id[row['id']] = row
    for kind, image_id, _id, a, b in conn.execute(_CHILDREN, {'ids': list(by_id)}):
        row = by_id[image_id]
        if kind == 0:
            row['properties'][a] = b
        elif kind == 1:
            row['tags'].append(a)
        else:
            row['locations'].append({'url': a, 'metadata': json.loads(b or '{}')})
    return rows


_OPS = {
    'eq': lambda c, v: c == v, 'neq': lambda c, v: c != v,
    'gt': lambda c, v: c > v, 'gte': lambda c, v: c >= v,
    'lt': lambda c, v: c < v, 'lte': lambda c, v: c <= v,
    'in': lambda c, v: c.in_(v),
}


def _filter_condition(f: Filter):
    column = images.c[f.column]
    if f.value is None:
        return column.is_(None) if f.op == 'eq' else column.is_not(None)
    return _OPS[f.op](column, f.value)


def _visibility_conditions(query: ListQuery) -> list:
    """Which images the caller may see in a listing, as Glance decides it."""
    vis, owner, project = images.c.visibility, images.c.owner, query.project_id
    conds = []
    if query.visibility and query.visibility != 'all':
        conds.append(vis == query.visibility)
    elif not query.visibility:
        # Community images are listed only when asked for, or to their owner.
        conds.append(vis != 'community' if project is None
                     else sa.or_(owner == project, vis != 'community'))
    if query.is_admin:
        return conds
    membership = sa.select(members.c.id).where(
        members.c.image_id == images.c.id, members.c.member == project)
    if query.member_status != 'all':
        membership = membership.where(members.c.status == query.member_status)
    readable = [vis.in_(('public', 'community')),
                sa.and_(vis == 'shared', membership.exists())]
    if project is not None:
        readable.append(owner == project)
    conds.append(sa.or_(*readable))
    return conds


def _list_conditions(query: ListQuery) -> list:
    conds = [images.c.deleted == sa.false(), images.c.status != 'killed']
    conds += _visibility_conditions(query)
    if query.os_hidden is not None:
        conds.append(images.c.os_hidden == query.os_hidden)
    conds += [_filter_condition(f) for f in query.filters]
    prefix = models.PROPERTY_VALUE_PREFIX
    for name, values in query.properties.items():
        # the prefix condition is the one ix_image_properties_name_value can serve
        conds.append(sa.select(props.c.id).where(
            props.c.image_id == images.c.id, props.c.name == name,
            sa.func.substr(props.c.value, 1, prefix).in_({v[:prefix] for v in values}),
            props.c.value.in_(values)).exists())
    for tag in query.tags:
        conds.append(sa.select(tags_t.c.id).where(
            tags_t.c.image_id == images.c.id, tags_t.c.value == tag).exists())
    return conds


def _sort_keys(sort: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requested keys plus the tie-breakers Glance adds (created_at, id)."""
    keys = list(sort)
    last_dir = keys[-1][1] if keys else 'desc'
    for extra in ('created_at', 'id'):
        if extra not in {k for k, _ in keys}:
            keys.append((extra, last_dir))
    return keys


def _order_by(sort):
    order = []
    for key, direction in _sort_keys(sort):
        column = images.c[key]
        if key in NULLABLE_SORT_KEYS:
            # NULL sorts first ascending, last descending, on every database.
            nulls_first = sa.case((column.is_(None), 0), else_=1)
            order.append(nulls_first.asc() if direction == 'asc' else nulls_first.desc())
        order.append(column.asc() if direction == 'asc' else column.desc())
    return order


def _after_marker(conn, query: ListQuery):
    """Keyset condition: rows strictly after the marker image in sort order."""
    found = [images.c.id == query.marker]
    if not query.is_admin:      # as in Glance, only admins may page from a deleted image
        found.append(images.c.deleted == sa.false())
    marker = conn.execute(sa.select(*_image_cols()).where(*found)).first()
    if marker is None:
        raise exception.BadRequest('Marker %s could not be found.' % query.marker)
    ors, equal_so_far = [], []
    for key, direction in _sort_keys(query.sort):
        column, value = images.c[key], getattr(marker, key)
        ors.append(sa.and_(*equal_so_far, _beyond(column, value, direction)))
        equal_so_far.append(column.is_(None) if value is None else column == value)
    return sa.or_(*ors)


def _beyond(column, value, direction):
    """``column`` comes after ``value`` in this direction (NULL is the smallest)."""
    if direction == 'asc':
        return column.is_not(None) if value is None else column > value
    if value is None:
        return sa.false()
    if column.name in NULLABLE_SORT_KEYS:
        return sa.or_(column < value, column.is_(None))
    return column < value


def connect(conf) -> Database:
    if not conf.database.connection:
        raise exception.GlintError('[database] connection is not set.')
    return Database(create_engine(conf.database.connection, conf))
