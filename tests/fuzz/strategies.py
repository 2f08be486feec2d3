"""What the fuzzer sends: plausible values mixed with hostile ones, so that examples
reach past the first validation as well as hit it."""
from __future__ import annotations

import uuid

from hypothesis import strategies as st

PATCH = 'application/openstack-images-v2.1-json-patch'
PATCH_D4 = 'application/openstack-images-v2.0-json-patch'

SURROGATES = st.integers(0xD800, 0xDFFF).map(chr)
ODD = st.sampled_from([
    '', ' ', '\x00', '\n', 'a\nb', '\t', '\x1b[0m', '\x7f', '\x85', '\u2028', '\ufeff',
    '\ud800', '\udfff', 'a\udc00b', '\ud83d\ude00', 'é', '%', '%00', '%FF', '../',
    '~1', '~0', '~', '"', "'", '\\', ',', '"a,b"', 'x' * 255, 'x' * 256, 'x' * 3000,
    'x' * 65536, 'x' * 65537,
    '9' * 30, '-1', '0', 'null', 'true', 'NaN', 'in:a,b', 'gte:2020-01-01T00:00:00Z',
    '9999-12-31T23:59:59-12:00', 'lt:0001-01-01T00:00:00+12:00'])
TEXT = st.one_of(st.text(max_size=20), ODD,
                 st.text(st.one_of(st.characters(), SURROGATES), max_size=6))
UUIDS = st.uuids().map(str)
IDS = st.one_of(UUIDS, UUIDS.map(str.upper),
                st.tuples(UUIDS, st.sampled_from(['\n', '\r\n', '\x00', ' ', 'x']))
                .map(''.join), TEXT)
BIG_INTS = st.one_of(st.integers(), st.integers(-2 ** 70, 2 ** 70),
                     st.sampled_from([2 ** 31 - 1, 2 ** 31, 2 ** 63 - 1, 2 ** 63, 2 ** 64,
                                      -1, -2 ** 63 - 1, 10 ** 400]))
SCALARS = st.one_of(st.none(), st.booleans(), BIG_INTS, st.floats(), TEXT)
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(TEXT, inner, max_size=3), max_leaves=6)

DISK_FORMATS = ['raw', 'qcow2', 'iso', 'ami', 'vhd', 'vmdk', 'RAW', 'bogus', '']
CONTAINER_FORMATS = ['bare', 'ovf', 'ami', 'docker', 'compressed', 'BARE', 'x']
VISIBILITIES = ['public', 'private', 'shared', 'community', 'all', 'PUBLIC', '']
# Attribute -> plausible values (each also gets arbitrary JSON).
ATTRIBUTES = {
    'id': IDS, 'name': TEXT, 'visibility': st.sampled_from(VISIBILITIES),
    'owner': TEXT, 'disk_format': st.sampled_from(DISK_FORMATS),
    'container_format': st.sampled_from(CONTAINER_FORMATS),
    'min_disk': BIG_INTS, 'min_ram': BIG_INTS, 'protected': st.booleans(),
    'os_hidden': st.booleans(), 'tags': st.lists(TEXT, max_size=4),
    'kernel_id': IDS, 'ramdisk_id': IDS, 'os_distro': TEXT, 'description': TEXT,
    'status': st.just('active'), 'size': BIG_INTS, 'checksum': TEXT,
    'locations': st.just([]), 'location': TEXT, 'os_glance_x': TEXT, 'self': TEXT,
    'file': TEXT, 'schema': TEXT, 'stores': TEXT, 'deleted': st.booleans(),
    'created_at': TEXT, 'direct_url': TEXT, 'os_hash_value': TEXT,
}
KEYS = st.one_of(st.sampled_from(sorted(ATTRIBUTES)), TEXT)


def value_for(key: str):
    return st.one_of(ATTRIBUTES.get(key, TEXT), JSON)


def objects(keys=KEYS, max_size=5):
    """A JSON object whose values fit their keys more often than not."""
    return st.lists(keys, unique=True, max_size=max_size).flatmap(
        lambda ks: st.fixed_dictionaries({k: value_for(k) for k in ks}))


POINTERS = st.one_of(st.sampled_from(sorted(ATTRIBUTES)).map('/'.__add__),
                     TEXT.map('/'.__add__), TEXT,
                     st.sampled_from(['/', '//name', '/name/', '/a/b', '/n~2', '/a~1b']))
OPS = st.sampled_from(['add', 'remove', 'replace', 'move', 'test', 'ADD', ''])


@st.composite
def operation(draw, draft: int):
    """One patch operation in the draft's form, sometimes broken."""
    path = draw(POINTERS)
    op = {'op': draw(OPS), 'path': path} if draft == 10 else {draw(OPS): path}
    if draw(st.booleans()):
        op['value'] = draw(value_for(path.lstrip('/')))
    if draw(st.integers(0, 9)) == 0:
        op.update(draw(objects(max_size=2)))
    return op


ACCEPTS = st.sampled_from([None, 'application/json', 'text/html', 'text/plain', '*/*',
                           'application/json;q=0.1, text/html;q=0.2', 'image/png', ''])
# Header values as a client can send them: latin-1, no line breaks.
HEADER_TEXT = st.one_of(st.text(st.characters(min_codepoint=0x20, max_codepoint=0xff,
                                              exclude_characters='\x7f'), max_size=30),
                        st.sampled_from(['', 'admin', 'member,reader', 'reader',
                                         'admin,admin', ',', ' ', 'x' * 300]))
IDENTITY = st.lists(st.tuples(st.sampled_from(['X-Roles', 'X-Project-Id', 'X-Tenant-Id',
                                               'X-User-Id', 'X-Identity-Status',
                                               'X-Domain-Id', 'X-Service-Roles',
                                               'X-Is-Admin-Project']),
                              HEADER_TEXT), max_size=4, unique_by=lambda h: h[0])


def new_uuid() -> str:
    return str(uuid.uuid4())
