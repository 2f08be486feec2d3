"""The registry's wire format: every value the DAL passes comes back exactly."""
from __future__ import annotations

import datetime as dt
import json

import pytest

from glint.common import exception
from glint.db.api import Filter, ImageDatabase, ListQuery
from glint.registry import rpc


def wire(value):
    return rpc.decode(json.loads(json.dumps(rpc.encode(value))))


def test_values_travel_losslessly():
    moment = dt.datetime(2024, 5, 6, 7, 8, 9, 123456)
    query = ListQuery(project_id='p', is_admin=False, marker='m', limit=3,
                      filters=[Filter('created_at', 'gt', moment),
                               Filter('status', 'in', ['active', 'queued'])],
                      sort=[('name', 'asc'), ('created_at', 'desc')])
    value = {
        'query': query, 'expect_status': ('queued', 'saving'),
        'row': {'created_at': moment, 'deleted_at': None, 'protected': True, 'size': 3,
                'properties': {'$datetime': 'not a date', '$x': '1'},
                'escaped': {'$datetime': 'also not a date'}},
        'add_locations': [('file:///x', {'a': [1, 2.5]})],
        'aware': dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        'whole_second': dt.datetime(2024, 1, 1, 0, 0, 0),
    }
    back = wire(value)
    assert back == value
    assert back['query'].sort[0] == ('name', 'asc')            # tuples stay tuples
    assert back['row']['created_at'].microsecond == 123456


def test_the_commands_are_exactly_the_interface():
    public = {name for name in dir(ImageDatabase)
              if not name.startswith('_') and callable(getattr(ImageDatabase, name))}
    assert rpc.COMMANDS == public
    assert rpc.call_kwargs('image_update', ('id', {'name': 'n'}), {'tags': []}) == {
        'image_id': 'id', 'values': {'name': 'n'}, 'tags': []}


@pytest.mark.parametrize('command', ['__init__', 'engine', 'connect', None, 'x'])
def test_unknown_commands_are_refused(command):
    with pytest.raises(exception.BadRequest):
        rpc.call_kwargs(command, kwargs={})


def test_unknown_tags_and_unencodable_values_are_refused():
    with pytest.raises(exception.BadRequest):
        rpc.decode({'$eval': 'x'})
    with pytest.raises(TypeError):
        rpc.encode({1, 2})


def test_errors_come_back_as_the_same_class():
    error = rpc.error_from(json.loads(json.dumps(rpc.error_body(
        exception.Conflict('Image x is busy')))))
    assert type(error) is exception.Conflict and error.msg == 'Image x is busy'
    foreign = rpc.error_from({'error': {'type': 'KeyError', 'message': 'm'}})
    assert type(foreign) is exception.GlintError
