"""An in-memory ``ImageDatabase`` (glint.db.api): the SQL implementation's semantics in
dicts, so the domain can be tested without a database.

It is a working implementation, not canned answers: soft delete, conditional updates,
the listing's visibility rules, filters, NULL-aware sorting and keyset markers behave
as glint.db.sqlalchemy.api does (tests/unit/test_db_api.py runs against both). SQL's
NULL comparisons are kept: a NULL column matches no comparison with a value, and
``owner == None`` means IS NULL, as SQLAlchemy renders it.
"""
from __future__ import annotations

import copy
import datetime as dt
import functools
import itertools
import operator
from typing import Any

from glint.common import exception
from glint.db.api import Filter, ListQuery, Row
from glint.domain.model import CORE_FIELDS

COLUMNS = ('id', *CORE_FIELDS, 'created_at', 'updated_at', 'deleted_at')
ID_LENGTH = 36
PROPERTY_VALUE_MAX = 65536      # glint.db.sqlalchemy.models
_OPS = {'eq': operator.eq, 'neq': operator.ne, 'gt': operator.gt, 'gte': operator.ge,
        'lt': operator.lt, 'lte': operator.le, 'in': lambda x, v: x in v}


class MemoryDatabase:
    def __init__(self) -> None:
        self.images: dict[str, Row] = {}              # deleted ones too (soft delete)
        self.properties: dict[str, dict[str, str]] = {}
        self.tags: dict[str, list[str]] = {}
        self.locations: dict[str, list[dict[str, Any]]] = {}
        self.members: dict[str, dict[str, Row]] = {}
        self.leases: dict[str, tuple[str, dt.datetime]] = {}    # uploads: (token, expiry)
        self._member_ids = itertools.count(1)
        self._last = dt.datetime.min

    def _now(self) -> dt.datetime:
        """Naive UTC, strictly increasing (SQL's microseconds never tie in practice)."""
        now = max(dt.datetime.now(dt.UTC).replace(tzinfo=None),
                  self._last + dt.timedelta(microseconds=1))
        self._last = now
        return now

    # -- images -----------------------------------------------------------------
    def image_create(self, values: Row, properties: dict[str, str],
                     tags: list[str]) -> Row:
        if values['id'] in self.images:
            raise exception.Conflict('Image with identifier %s already exists!'
                                     % values['id'])
        _check_values(properties)
        now = self._now()
        row = {name: values.get(name) for name in COLUMNS}
        row.update(created_at=now, updated_at=now, deleted=False)
        self.images[row['id']] = row
        self.properties[row['id']] = dict(properties)
        self.tags[row['id']] = list(dict.fromkeys(tags))
        self.locations[row['id']] = []
        self.members[row['id']] = {}
        return self._view(row)

    def _alive(self, image_id: str) -> Row:
        row = self.images.get(image_id)
        if row is None or row['deleted']:
            raise exception.NotFound('No image found with ID %s' % image_id)
        return row

    def _view(self, row: Row) -> Row:
        """What image_get returns: the columns (not ``deleted``) and the children."""
        image_id = row['id']
        view = {name: row[name] for name in COLUMNS}
        view.update(properties=dict(self.properties[image_id]),
                    tags=list(self.tags[image_id]),
                    locations=copy.deepcopy(self.locations[image_id]))
        return view

    def image_get(self, image_id: str) -> Row:
        if len(image_id) > ID_LENGTH:
            raise exception.NotFound('No image found with ID %s' % image_id)
        return self._view(self._alive(image_id))

    def image_update(self, image_id, values, *, set_properties=None,
                     remove_properties=None, tags=None, add_locations=None,
                     remove_locations=None, expect_status=None, lease=None) -> Row:
        row = self._alive(image_id)
        if (expect_status and row['status'] not in expect_status) or \
                (lease is not None and self.leases.get(image_id, (None,))[0] != lease):
            raise exception.Conflict('Image %s is in status %s; the operation is not '
                                     'allowed in that status.' % (image_id, row['status']))
        _check_values(set_properties or {})
        if lease is not None:
            del self.leases[image_id]
        row.update(values, updated_at=self._now())
        props = self.properties[image_id]
        for name in remove_properties or ():
            props.pop(name, None)
        props.update(set_properties or {})
        if tags is not None:
            self.tags[image_id] = list(dict.fromkeys(tags))
        self.locations[image_id] = [
            loc for loc in self.locations[image_id] if loc['url'] not in (remove_locations or ())
        ] + [{'url': url, 'metadata': copy.deepcopy(meta)} for url, meta in add_locations or ()]
        return self._view(row)

    def image_delete(self, image_id: str) -> Row:
        image = self.image_get(image_id)
        now = self._now()
        self.images[image_id].update(deleted=True, deleted_at=now, updated_at=now,
                                     status='deleted')
        self.locations[image_id] = []       # SQL marks them deleted: never read again
        return dict(image, status='deleted', deleted=True, deleted_at=now)

    def image_list(self, query: ListQuery) -> list[Row]:
        keys = _sort_keys(query.sort)
        order = functools.cmp_to_key(lambda a, b: _compare(a, b, keys))
        rows = sorted((r for r in self.images.values() if self._listed(r, query)),
                      key=order)
        if query.marker:
            marker = self._marker(query)
            rows = [r for r in rows if _compare(r, marker, keys) > 0]
        return [self._view(r) for r in rows[:query.limit]]

    def _marker(self, query: ListQuery) -> Row:
        marker = self.images.get(query.marker)
        # as in Glance, only admins may page from a deleted image
        if marker is None or (marker['deleted'] and not query.is_admin):
            raise exception.BadRequest('Marker %s could not be found.' % query.marker)
        return marker

    def _listed(self, row: Row, query: ListQuery) -> bool:
        image_id = row['id']
        props = self.properties[image_id]
        return (not row['deleted'] and row['status'] != 'killed'
                and self._may_list(row, query)
                and (query.os_hidden is None or row['os_hidden'] == query.os_hidden)
                and all(_matches(row, f) for f in query.filters)
                and all(props.get(name) in values
                        for name, values in query.properties.items())
                and all(tag in self.tags[image_id] for tag in query.tags))

    def _may_list(self, row: Row, query: ListQuery) -> bool:
        """glint.db.sqlalchemy.api._visibility_conditions, row by row."""
        visibility, owner, project = row['visibility'], row['owner'], query.project_id
        if query.visibility and query.visibility != 'all':
            if visibility != query.visibility:
                return False
        elif not query.visibility and visibility == 'community':
            # Community images are listed only when asked for, or to their owner.
            if project is None or owner != project:
                return False
        if query.is_admin:
            return True
        member = self.members[row['id']].get(project)
        membership = member is not None and query.member_status in ('all', member['status'])
        return (visibility in ('public', 'community')
                or (visibility == 'shared' and membership)
                or (project is not None and owner == project))

    # -- upload leases ----------------------------------------------------------
    def upload_start(self, image_id: str, lease: str, seconds: int) -> Row:
        row = self.image_update(image_id, {'status': 'saving'}, expect_status=('queued',))
        self.leases[image_id] = (lease, self._now() + dt.timedelta(seconds=seconds))
        return row

    def upload_renew(self, image_id: str, lease: str, seconds: int) -> bool:
        if self.leases.get(image_id, (None,))[0] != lease:
            return False
        self.leases[image_id] = (lease, self._now() + dt.timedelta(seconds=seconds))
        return True

    def _lease_lost(self, row: Row, now: dt.datetime) -> bool:
        held = self.leases.get(row['id'])
        return (not row['deleted'] and row['status'] == 'saving'
                and (held is None or held[1] < now))

    def upload_takeover(self, image_id: str, lease: str, seconds: int) -> bool:
        row, now = self.images.get(image_id), self._now()
        if row is None or not self._lease_lost(row, now):
            return False
        self.leases[image_id] = (lease, now + dt.timedelta(seconds=seconds))
        return True

    def uploads_expired(self, limit: int = 100) -> list[str]:
        now = self._now()
        return [i for i, r in self.images.items() if self._lease_lost(r, now)][:limit]

    def data_owners(self) -> Row:
        alive = [i for i, r in self.images.items() if not r['deleted']]
        return {'locations': [{'image_id': i, **copy.deepcopy(loc)}
                              for i in alive for loc in self.locations[i]],
                'uploading': [i for i in alive if self.images[i]['status'] == 'saving']}

    def image_count(self, owner: str | None) -> int:
        return sum(1 for r in self.images.values()
                   if r['owner'] == owner and not r['deleted'])

    def storage_used(self, owner: str | None, exclude_image: str | None = None) -> int:
        return sum(r['size'] or 0 for r in self.images.values()
                   if r['owner'] == owner and not r['deleted'] and r['id'] != exclude_image)

    # -- tags -------------------------------------------------------------------
    def image_tag_add(self, image_id: str, tag: str) -> None:
        row = self._alive(image_id)
        if tag not in self.tags[image_id]:
            self.tags[image_id].append(tag)
        row['updated_at'] = self._now()

    def image_tag_delete(self, image_id: str, tag: str) -> None:
        if tag not in self.tags.get(image_id, ()):
            raise exception.NotFound('Tag %s not found on image %s' % (tag, image_id))
        self.tags[image_id].remove(tag)
        self.images[image_id]['updated_at'] = self._now()

    # -- members ----------------------------------------------------------------
    def member_list(self, image_id: str) -> list[Row]:
        rows = self.members.get(image_id, {}).values()
        return [dict(r) for r in sorted(rows, key=lambda r: (r['created_at'], r['id']))]

    def member_get(self, image_id: str, member: str) -> Row:
        row = self.members.get(image_id, {}).get(member)
        if row is None:
            raise exception.NotFound('%s is not a member of image %s' % (member, image_id))
        return dict(row)

    def member_create(self, image_id: str, member: str) -> Row:
        members = self.members.setdefault(image_id, {})
        if member in members:
            raise exception.Conflict('Member %s already exists for image %s'
                                     % (member, image_id))
        now = self._now()
        members[member] = {'id': next(self._member_ids), 'image_id': image_id,
                           'member': member, 'status': 'pending', 'can_share': False,
                           'created_at': now, 'updated_at': now}
        return self.member_get(image_id, member)

    def member_update(self, image_id: str, member: str, status: str) -> Row:
        self.member_get(image_id, member)
        self.members[image_id][member].update(status=status, updated_at=self._now())
        return self.member_get(image_id, member)

    def member_delete(self, image_id: str, member: str) -> None:
        self.member_get(image_id, member)
        del self.members[image_id][member]

    # -- maintenance ------------------------------------------------------------
    def purge(self, age_in_days: int, max_rows: int | None = None) -> int:
        cutoff = self._now() - dt.timedelta(days=age_in_days)
        doomed = [i for i, r in self.images.items()
                  if r['deleted'] and r['deleted_at'] < cutoff][:max_rows or None]
        for image_id in doomed:
            for table in (self.images, self.properties, self.tags, self.locations,
                          self.members):
                del table[image_id]
        return len(doomed)


def _check_values(properties: dict[str, str]) -> None:
    for name, value in properties.items():
        if isinstance(value, str) and len(value) > PROPERTY_VALUE_MAX:
            raise exception.BadRequest('Value of property %s is longer than %d '
                                       'characters.' % (name, PROPERTY_VALUE_MAX))


def _matches(row: Row, f: Filter) -> bool:
    value = row[f.column]
    if f.value is None:
        return (value is None) == (f.op == 'eq')
    return value is not None and _OPS[f.op](value, f.value)      # SQL: NULL matches nothing


def _sort_keys(sort: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The requested keys plus the tie-breakers Glance adds (created_at, id)."""
    keys = list(sort)
    last = keys[-1][1] if keys else 'desc'
    return keys + [(k, last) for k in ('created_at', 'id') if k not in dict(keys)]


def _compare(a: Row, b: Row, keys: list[tuple[str, str]]) -> int:
    """-1, 0, 1: a's place against b's in the listing (NULL is the smallest value)."""
    for key, direction in keys:
        x, y = a[key], b[key]
        if x == y:
            continue
        before = y is not None and (x is None or x < y)
        return (-1 if before else 1) * (1 if direction == 'asc' else -1)
    return 0
