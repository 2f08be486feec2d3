"""The registry's RPC endpoint (POST /rpc) against malformed calls: no 5xx, its own
error shape, nothing changed. Only the envelope and the type tags: the arguments of a
well-formed call are the API's, which the registry trusts (admin only) and which
test_fuzz_api.py reaches through the registry."""
from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz import strategies as s

COMMANDS = st.sampled_from(['image_get', 'image_list', 'image_create', 'nope', '',
                            '__init__', '_read', 'connect']) | s.TEXT | s.JSON
TAGS = st.sampled_from(['$datetime', '$tuple', '$dict', '$ListQuery', '$Filter',
                        '$nope', '$'])
TAGGED = st.tuples(TAGS, s.JSON).map(lambda t: {t[0]: t[1]})
ENVELOPES = st.one_of(
    st.fixed_dictionaries({'command': COMMANDS}, optional={'kwargs': st.one_of(
        s.JSON, TAGGED, st.dictionaries(s.TEXT, TAGGED, max_size=2))}),
    s.JSON)


@given(doc=ENVELOPES, raw=st.none() | st.binary(max_size=32))
def test_rpc_envelope(rpc, doc, raw):
    body = raw if raw is not None else json.dumps(doc).encode()
    rpc.request('POST', '/rpc', [('Content-Type', 'application/json')], body)


@given(method=st.sampled_from(['GET', 'PUT', 'DELETE', 'PATCH']),
       path=st.sampled_from(['/rpc', '/', '/rpc/x', '/v2/images']))
def test_rpc_other_routes(rpc, method, path):
    rpc.request(method, path)
