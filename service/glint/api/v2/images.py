"""/v2/images: create, list, show, update (JSON patch), delete, tags, actions."""
from __future__ import annotations

import re
import urllib.parse

import falcon
import jsonschema
from oslo_utils import timeutils

from glint.api import common
from glint.api.v2 import schemas
from glint.common import exception
from glint.db.api import Filter, ListQuery
from glint.domain.images import Change
from glint.domain.model import INTEGER_MAX, WRITABLE_FIELDS

PATCH_TYPES = {'application/openstack-images-v2.0-json-patch': 4,
               'application/openstack-images-v2.1-json-patch': 10}
SORT_KEYS = ('name', 'status', 'container_format', 'disk_format', 'size', 'id',
             'created_at', 'updated_at')
# POST may not carry these at all (Glance: "read-only" even though some are writable later).
CREATE_FORBIDDEN = frozenset({'direct_url', 'self', 'file', 'schema', 'stores'})
IN_FILTERS = frozenset({'name', 'id', 'status', 'container_format', 'disk_format'})
COLUMN_FILTERS = frozenset({'owner', 'checksum', 'os_hash_value', 'visibility',
                            'min_disk', 'min_ram', 'virtual_size', 'size'})
RANGE_FILTERS = frozenset({'size', 'virtual_size', 'min_disk', 'min_ram'})
OPERATORS = ('eq', 'neq', 'gt', 'gte', 'lt', 'lte')
BOOL_FILTERS = ('os_hidden', 'protected')


def _check_reserved(name: str) -> None:
    if name in schemas.RESERVED_IMAGE_PROPERTIES or name.startswith(
            schemas.RESERVED_NAMESPACE):
        raise exception.Forbidden("Attribute '%s' is reserved." % name)


class Images:
    """The image collection."""

    def __init__(self, api: common.Api):
        self.api = api

    def validate(self, obj: dict) -> None:
        try:
            self.api.image_validator.validate(obj)
        except jsonschema.ValidationError as e:
            raise exception.BadRequest("Provided object does not match schema 'image': "
                                       "%s" % e.message)

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        body = common.json_body(req)
        if not isinstance(body, dict):
            raise exception.BadRequest('The image must be a JSON object.')
        for key in CREATE_FORBIDDEN.intersection(body):
            raise exception.Forbidden("Attribute '%s' is read-only." % key)
        for key in body:
            if key in schemas.READ_ONLY_IMAGE_PROPERTIES and key != 'id':
                raise exception.Forbidden("Attribute '%s' is read-only." % key)
            _check_reserved(key)
            if key == 'locations':
                raise exception.Forbidden("Attribute '%s' is reserved." % key)
            if len(key) > 255:
                raise exception.BadRequest('Custom property should not be greater than '
                                           '255 characters.')
        self.validate(body)
        tags = body.pop('tags', [])
        values = {k: body.pop(k) for k in list(body) if k in WRITABLE_FIELDS}
        image = self.api.images.create(common.context(req), values, body, tags)
        resp.status = falcon.HTTP_201
        resp.location = '/v2/images/' + image.id
        if self.api.import_methods:    # an empty header field is not allowed
            resp.set_header('OpenStack-image-import-methods',
                            ','.join(self.api.import_methods))
        common.send_json(resp, self.api.view(image))

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        query = parse_list_query(req, self.api.conf)
        images = self.api.images.list(common.context(req), query)
        params = [(k, v) for k, v in _query_pairs(req) if k != 'marker']
        body = {'images': [self.api.view(i) for i in images],
                'first': '/v2/images' + ('?' + urllib.parse.urlencode(params)
                                         if params else ''),
                'schema': '/v2/schemas/images'}
        if images and len(images) == query.limit:
            params.append(('marker', images[-1].id))
            body['next'] = '/v2/images?' + urllib.parse.urlencode(params)
        common.send_json(resp, body)


class Image:
    """One image."""

    def __init__(self, api: common.Api, images: Images):
        self.api = api
        self.images = images

    def on_get(self, req, resp, image_id: str) -> None:
        common.send_json(resp, self.api.view(
            self.api.images.get(common.context(req), image_id)))

    def on_patch(self, req, resp, image_id: str) -> None:
        content_type = (req.content_type or '').split(';')[0].strip()
        if content_type not in PATCH_TYPES:
            allowed = ', '.join(sorted(PATCH_TYPES))
            raise common.UnsupportedMediaType(
                'Image PATCH expects Content-Type one of: %s' % allowed,
                headers={'Accept-Patch': allowed})
        changes = self.parse_patch(common.json_body(req), PATCH_TYPES[content_type])
        image = self.api.images.update(common.context(req), image_id, changes)
        common.send_json(resp, self.api.view(image))

    def parse_patch(self, body, draft: int) -> list[Change]:
        if not isinstance(body, list):
            raise exception.BadRequest('Request body must be a JSON array of operation '
                                       'objects.')
        changes = []
        for raw in body:
            if not isinstance(raw, dict):
                raise exception.BadRequest('Operations must be JSON objects.')
            op, pointer = _operation(raw, draft)
            path = decode_pointer(pointer)
            if len(path) != 1:
                raise exception.BadRequest("Invalid JSON pointer for this resource: '/%s'"
                                           % '/'.join(path))
            name = path[0]
            if name in schemas.READ_ONLY_IMAGE_PROPERTIES:
                raise exception.Forbidden("Attribute '%s' is read-only." % name)
            _check_reserved(name)
            if name == 'locations':
                raise exception.Forbidden('Changing image locations is not supported.')
            change = Change(op, name, exclusive=(draft == 4 and op == 'add'))
            if op != 'remove':
                if 'value' not in raw:
                    raise exception.BadRequest('Operation "%s" requires a member named '
                                               '"value".' % op)
                change.value = raw['value']
                self.images.validate({name: change.value})
            changes.append(change)
        return changes

    def on_delete(self, req, resp, image_id: str) -> None:
        self.api.images.delete(common.context(req), image_id)
        resp.status = falcon.HTTP_204


class StoreCopy:
    """DELETE /v2/stores/{store_id}/{image_id}: the image's data in one backend."""

    def __init__(self, api: common.Api):
        self.api = api

    def on_delete(self, req, resp, store_id: str, image_id: str) -> None:
        self.api.data.delete_from_store(common.context(req), store_id, image_id)
        resp.status = falcon.HTTP_204


class Tag:
    def __init__(self, api: common.Api):
        self.api = api

    def on_put(self, req, resp, image_id: str, tag: str) -> None:
        if len(tag) > 255:
            raise exception.BadRequest('Tag is longer than 255 characters.')
        self.api.images.add_tag(common.context(req), image_id, tag)
        resp.status = falcon.HTTP_204

    def on_delete(self, req, resp, image_id: str, tag: str) -> None:
        self.api.images.delete_tag(common.context(req), image_id, tag)
        resp.status = falcon.HTTP_204


class Action:
    """POST /v2/images/{id}/actions/deactivate | reactivate."""

    def __init__(self, api: common.Api, action: str):
        self.api = api
        self.action = action

    def on_post(self, req, resp, image_id: str) -> None:
        self.api.images.set_status(common.context(req), image_id, self.action)
        resp.status = falcon.HTTP_204


# -- JSON patch ---------------------------------------------------------------------
def _operation(raw: dict, draft: int) -> tuple[str, str]:
    ops = ('add', 'remove', 'replace')
    if draft == 4:      # {"replace": "/name", "value": ...}
        found = [op for op in ops if op in raw]
        if len(found) != 1:
            raise exception.BadRequest('Operation objects must contain exactly one '
                                       'member named "add", "remove", or "replace".')
        pointer = raw[found[0]]
        op = found[0]
    else:
        op = raw.get('op')
        if op not in ops:
            raise exception.BadRequest('Invalid operation: `%s`. It must be one of the '
                                       'following: add, remove, replace.' % op)
        if 'path' not in raw:
            raise exception.BadRequest("Unable to find 'path' in JSON Schema change")
        pointer = raw['path']
    if not isinstance(pointer, str):
        raise exception.BadRequest('Pointer `%s` does not start with "/".' % pointer)
    return op, pointer


def decode_pointer(pointer: str) -> list[str]:
    """A JSON pointer, in the restricted form Glance accepts."""
    if not pointer.startswith('/'):
        raise exception.BadRequest('Pointer `%s` does not start with "/".' % pointer)
    if re.search(r'/\s*?/', pointer[1:]):
        raise exception.BadRequest('Pointer `%s` contains adjacent "/".' % pointer)
    if len(pointer) > 1 and pointer.endswith('/'):
        raise exception.BadRequest('Pointer `%s` end with "/".' % pointer)
    if re.search('~[^01]', pointer) or pointer.endswith('~'):
        raise exception.BadRequest('Pointer `%s` contains "~" not part of a recognized '
                                   'escape sequence.' % pointer)
    return [part.replace('~1', '/').replace('~0', '~').strip()
            for part in pointer[1:].split('/')]


# -- listing ------------------------------------------------------------------------
def _query_pairs(req: falcon.Request) -> list[tuple[str, str]]:
    return urllib.parse.parse_qsl(req.query_string, keep_blank_values=True)


def _sort(params: dict[str, list[str]]) -> list[tuple[str, str]]:
    def key(k):
        k = k.strip()
        if k not in SORT_KEYS:
            raise exception.BadRequest('Invalid sort key: %s. It must be one of the '
                                       'following: %s.' % (k, ', '.join(SORT_KEYS)))
        return k

    def direction(d):
        d = d.strip()
        if d not in ('asc', 'desc'):
            raise exception.BadRequest('Invalid sort direction: %s' % d)
        return d

    if 'sort' in params:
        if 'sort_key' in params or 'sort_dir' in params:
            raise exception.BadRequest('Old and new sorting syntax cannot be combined')
        pairs = []
        for item in params['sort'][-1].strip().split(','):
            k, _, d = item.partition(':')
            pairs.append((key(k), direction(d or 'desc')))
        return _tie_broken(pairs, len(pairs))
    keys = [key(k) for k in params.get('sort_key', [])] or ['created_at']
    dirs = [direction(d) for d in params.get('sort_dir', [])] or ['desc']
    if len(dirs) > 1 and len(dirs) != len(keys):
        raise exception.BadRequest('Number of sort dirs does not match the number of '
                                   'sort keys')
    given = len(dirs)
    if len(dirs) == 1:
        dirs = dirs * len(keys)
    return _tie_broken(list(zip(keys, dirs, strict=True)), given)


def _tie_broken(pairs: list[tuple[str, str]], given_dirs: int) -> list[tuple[str, str]]:
    """Glance appends created_at and id as tie-breakers, in the sort direction when
    exactly one was given, else descending."""
    default = pairs[0][1] if given_dirs == 1 else 'desc'
    keys = {k for k, _ in pairs}
    return pairs + [(k, default) for k in ('created_at', 'id') if k not in keys]


def _split_op(expression: str) -> tuple[str, str]:
    """'gte:2020-01-01T00:00:00Z' -> ('gte', ...); a bare ISO time is 'eq'."""
    left, sep, right = expression.partition(':')
    if not sep:
        return 'eq', left
    try:
        timeutils.parse_isotime(expression)
        return 'eq', expression
    except ValueError:
        return left, right


def _in_values(text: str) -> list[str]:
    """Comma separated values; double quotes protect commas (API-WG rules)."""
    _validate_quotes(text)
    found = re.findall(r'"((?:[^"\\]|\\.)*)",?|([^,]+),?|,', text)
    return [quoted or plain for quoted, plain in found]


def _validate_quotes(text: str) -> None:
    """Glance's rules: a quote opens after a comma and closes before one; \\" is not a
    quote."""
    opening = True
    for i, char in enumerate(text):
        if char != '"' or (i and text[i - 1] == '\\'):
            continue
        if opening and i and text[i - 1] != ',':
            raise exception.BadRequest('Invalid filter value %s. There is no comma before '
                                       'opening quotation mark.' % text)
        if not opening and i + 1 != len(text) and text[i + 1] != ',':
            raise exception.BadRequest('Invalid filter value %s. There is no comma after '
                                       'closing quotation mark.' % text)
        opening = not opening
    if not opening:
        raise exception.BadRequest('Invalid filter value %s. The quote is not closed.'
                                   % text)


def _bool(name: str, value: str) -> bool:
    if value.lower() not in ('true', 'false'):
        raise exception.BadRequest("Invalid value '%s' for '%s' filter. Valid values "
                                   "are 'true' or 'false'." % (value, name))
    return value.lower() == 'true'


def _time_filter(name: str, value: str) -> Filter:
    op, when = _split_op(value)
    if op not in OPERATORS:
        raise exception.BadRequest("Unable to filter by unknown operator '%s'." % op)
    try:
        moment = timeutils.normalize_time(timeutils.parse_isotime(when))
    except (ValueError, OverflowError):    # OverflowError: in UTC beyond year 1 or 9999
        raise exception.BadRequest('Bad "%s" query filter format. Use ISO 8601 '
                                   'DateTime notation.' % name)
    return Filter(name, op, moment)


def _int(name: str, value: str) -> int:
    """A number to compare column ``name`` with; one the column cannot hold is refused
    (PostgreSQL casts it to the column's type, SQLite cannot bind beyond 64 bits)."""
    try:
        number = int(value)       # ValueError beyond 4300 digits too
    except ValueError:
        raise exception.BadRequest('Unable to filter on a range with a non-numeric '
                                   'value.')
    if not -INTEGER_MAX[name] - 1 <= number <= INTEGER_MAX[name]:
        raise exception.BadRequest("Unable to filter on '%s': the value must be between "
                                   "%d and %d." % (name, -INTEGER_MAX[name] - 1,
                                                   INTEGER_MAX[name]))
    return number


def _limit(params, conf) -> int:
    if 'limit' not in params:
        return min(conf.limit_param_default, conf.api_limit_max)
    try:
        limit = int(params['limit'][-1])
    except ValueError:
        raise exception.BadRequest('limit param must be an integer')
    if limit < 0:
        raise exception.BadRequest('limit param must be positive')
    return min(limit, conf.api_limit_max)


def parse_list_query(req: falcon.Request, conf) -> ListQuery:
    params: dict[str, list[str]] = {}
    for k, v in _query_pairs(req):
        params.setdefault(k, []).append(v)
    query = ListQuery(project_id=None, is_admin=False, limit=_limit(params, conf),
                      sort=_sort(params))
    query.marker = params.pop('marker', [None])[-1]
    query.member_status = params.pop('member_status', ['accepted'])[-1]
    if query.member_status not in ('pending', 'accepted', 'rejected', 'all'):
        raise exception.BadRequest('Invalid status: %s' % query.member_status)
    query.tags = [t.strip() for t in params.pop('tag', [])]
    if 'changes-since' in params:
        raise exception.BadRequest('The "changes-since" filter is no longer available '
                                   'on v2.')
    visibility = params.pop('visibility', [None])[-1]
    if visibility and visibility not in ('community', 'public', 'private', 'shared',
                                         'all'):
        raise exception.BadRequest('Invalid visibility value: %s' % visibility)
    query.visibility = visibility or None
    query.os_hidden = _bool('os_hidden', params.pop('os_hidden', ['false'])[-1])
    for name in ('limit', 'sort', 'sort_key', 'sort_dir'):
        params.pop(name, None)
    for name, values in params.items():
        value = values[-1]
        if name == 'protected':
            query.filters.append(Filter(name, 'eq', _bool(name, value)))
        elif name in ('created_at', 'updated_at'):
            query.filters.append(_time_filter(name, value))
        elif name[:-4] in RANGE_FILTERS and name[-4:] in ('_min', '_max'):
            op = 'gte' if name.endswith('_min') else 'lte'
            query.filters.append(Filter(name[:-4], op, _int(name[:-4], value)))
        elif name in IN_FILTERS:
            op, operand = _split_op(value)
            if op == 'in':
                query.filters.append(Filter(name, 'in', _in_values(operand)))
            elif op == 'eq':
                query.filters.append(Filter(name, 'eq', operand))
            else:
                raise exception.BadRequest("Unable to filter by unknown operator '%s'."
                                           % op)
        elif name in COLUMN_FILTERS:
            query.filters.append(Filter(name, 'eq', _int(name, value)
                                        if name in RANGE_FILTERS else value))
        else:
            query.properties[name] = [value]
    return query
