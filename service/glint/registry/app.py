"""The glance-registry application: the SQL image database behind ``POST /rpc``.

The registry is a raw data layer with no per-image authorization of its own, so every
call must pass the ``registry_api`` policy rule (default: admin or service role); the
glance-api in front of it enforces Glance's rules per image. In the no-auth flavor the
unauthenticated context is an administrator, which is why glance-registry refuses to
listen beyond loopback without auth (see glint.cmd.registry).
"""
from __future__ import annotations

import json
import logging

import falcon
from oslo_config import cfg

from glint import checks, context
from glint.common import exception, server
from glint.db.sqlalchemy import api as sql_api
from glint.policy import Enforcer
from glint.registry import rpc

LOG = logging.getLogger(__name__)
CONF = cfg.CONF
SERVICE = 'glance-registry'


class Rpc:
    """``POST /rpc``: one ImageDatabase call per request."""

    def __init__(self, db: sql_api.Database, enforcer: Enforcer):
        self.methods = {name: getattr(db, name) for name in rpc.COMMANDS}
        self.enforcer = enforcer

    def on_post(self, req: falcon.Request, resp: falcon.Response) -> None:
        ctx = context.from_environ(req.env)
        self.enforcer.enforce(ctx, 'registry_api', {})
        try:
            body = json.load(req.bounded_stream)
            command, kwargs = body['command'], rpc.decode(body.get('kwargs') or {})
        except (ValueError, KeyError, TypeError, AttributeError):
            raise exception.BadRequest('Expected {"command": NAME, "kwargs": {...}}.')
        kwargs = rpc.call_kwargs(command, kwargs=kwargs)     # refuses unknown commands
        result = self.methods[command](**kwargs)
        resp.text = json.dumps({'result': rpc.encode(result)})
        resp.content_type = falcon.MEDIA_JSON


def _render(resp: falcon.Response, status: int, error: exception.GlintError) -> None:
    resp.status = status
    resp.content_type = falcon.MEDIA_JSON
    resp.text = json.dumps(rpc.error_body(error))


def _glint_error(req, resp, ex: exception.GlintError, params) -> None:
    if ex.status >= 500:
        LOG.error('%s failed: %s', req.path, ex.msg)
    _render(resp, ex.status, ex)


def _http_error(req, resp, ex: falcon.HTTPError, params) -> None:
    """Falcon's own (unknown path, wrong method): the same shape, with its status."""
    _render(resp, ex.status_code, exception.GlintError(ex.description or ex.title))


def _unexpected(req, resp, ex: Exception, params) -> None:
    LOG.exception('Unexpected error in %s', req.path)
    _render(resp, 500, exception.GlintError())


def build(conf: cfg.ConfigOpts) -> falcon.App:
    checks.enforce(conf, SERVICE)
    app = falcon.App()
    app.add_error_handler(Exception, _unexpected)
    app.add_error_handler(falcon.HTTPError, _http_error)
    app.add_error_handler(exception.GlintError, _glint_error)
    app.add_route(rpc.PATH, Rpc(sql_api.connect(conf), Enforcer(conf)))
    return app


def app_factory(global_conf, **local_conf):
    """paste.app_factory: the registry over the already parsed global configuration."""
    return build(CONF)


def load_app(conf: cfg.ConfigOpts = CONF):
    """The glance-registry pipeline of glance-registry-paste.ini that [paste_deploy]
    selects."""
    return server.load_paste(conf, SERVICE)
