"""The registry's wire protocol, shared by the server (glint.registry.app) and the
client (glint.db.registry.api).

One call is ``POST /rpc`` with ``{"command": NAME, "kwargs": {...}}``; the answer is
``{"result": ...}`` (200) or ``{"error": {"type": CLASS, "message": ...}}`` with the
status of that glint.common.exception class, so the client raises the very error the
database raised. The commands are exactly the methods of ``ImageDatabase``, derived from
the interface so the two cannot drift apart.

Values travel as JSON; what JSON cannot say is tagged explicitly as a one-key object
whose key starts with ``$`` (``{"$datetime": iso}`` with microseconds, ``{"$tuple":
[...]}``, ``{"$ListQuery": {...}}``, ``{"$Filter": {...}}``), and a plain dict that
happens to look like a tag is escaped as ``{"$dict": {...}}``, so every value (an image
property named ``$datetime`` included) comes back exactly as it was sent.
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import inspect
from collections.abc import Callable
from typing import Any

from glint.common import exception
from glint.db.api import Filter, ImageDatabase, ListQuery

PATH = '/rpc'
SIGNATURES: dict[str, inspect.Signature] = {
    name: inspect.signature(member) for name, member in vars(ImageDatabase).items()
    if inspect.isfunction(member) and not name.startswith('_')}
COMMANDS = frozenset(SIGNATURES)
_DATACLASSES: dict[str, type] = {cls.__name__: cls for cls in (ListQuery, Filter)}
ERRORS: dict[str, type[exception.GlintError]] = {
    name: cls for name, cls in vars(exception).items()
    if isinstance(cls, type) and issubclass(cls, exception.GlintError)}


def call_kwargs(command: str, args: tuple = (), kwargs: dict | None = None) -> dict:
    """The keyword arguments of a call to ``command``, checked against the interface.

    Raises BadRequest for an unknown command or arguments its signature refuses."""
    if not isinstance(command, str) or command not in COMMANDS:
        raise exception.BadRequest('Unknown registry command %r.' % (command,))
    try:
        bound = SIGNATURES[command].bind(None, *args, **(kwargs or {}))
    except TypeError as e:
        raise exception.BadRequest('Invalid arguments for %s: %s' % (command, e))
    return {name: value for name, value in list(bound.arguments.items())[1:]}


def encode(value: Any) -> Any:
    """``value`` as JSON-ready data, every non-JSON type tagged."""
    if isinstance(value, dt.datetime):
        return {'$datetime': value.isoformat(timespec='microseconds')}
    if isinstance(value, tuple):
        return {'$tuple': [encode(v) for v in value]}
    if dataclasses.is_dataclass(value) and type(value).__name__ in _DATACLASSES:
        return {'$' + type(value).__name__: {
            f.name: encode(getattr(value, f.name)) for f in dataclasses.fields(value)}}
    if isinstance(value, dict):
        data = {str(k): encode(v) for k, v in value.items()}
        return {'$dict': data} if _is_tagged(value) else data
    if isinstance(value, list):
        return [encode(v) for v in value]
    if value is None or isinstance(value, (str, int, float)):
        return value
    raise TypeError('A %s cannot travel to the registry.' % type(value).__name__)


def decode(data: Any) -> Any:
    """The value ``encode`` made ``data`` from; BadRequest for an unknown tag."""
    if isinstance(data, list):
        return [decode(v) for v in data]
    if not isinstance(data, dict):
        return data
    if not _is_tagged(data):
        return {k: decode(v) for k, v in data.items()}
    [(tag, inner)] = data.items()
    decoder = _DECODERS.get(tag)
    if decoder is None:
        raise exception.BadRequest('Unknown type tag %r.' % tag)
    try:
        return decoder(inner)
    except (TypeError, ValueError, AttributeError) as e:
        raise exception.BadRequest('Invalid %s value: %s' % (tag, e))


def _is_tagged(data: dict) -> bool:
    return len(data) == 1 and str(next(iter(data))).startswith('$')


def _dataclass(cls: type) -> Callable[[dict], Any]:
    return lambda fields: cls(**{k: decode(v) for k, v in fields.items()})


_DECODERS: dict[str, Callable[[Any], Any]] = {
    '$datetime': dt.datetime.fromisoformat,
    '$tuple': lambda items: tuple(decode(v) for v in items),
    '$dict': lambda fields: {k: decode(v) for k, v in fields.items()},
    **{'$' + name: _dataclass(cls) for name, cls in _DATACLASSES.items()},
}


def error_body(error: exception.GlintError) -> dict:
    return {'error': {'type': type(error).__name__, 'message': error.msg}}


def error_from(body: dict) -> exception.GlintError:
    """The exception a registry error body describes (GlintError for a foreign type)."""
    error = body['error']
    return ERRORS.get(error.get('type'), exception.GlintError)(error.get('message'))
