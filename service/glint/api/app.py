"""The API application: routes, the caller's context, and the paste factories."""
from __future__ import annotations

import re

import falcon
from oslo_config import cfg
from oslo_context import context as oslo_context

from glint import checks, notifier
from glint.api import common, errors, versions
from glint.api.v2 import discovery, image_data, images, members
from glint.common import server
from glint.db import api as db_api
from glint.domain.data import ImageDataService
from glint.domain.gateway import Gateway
from glint.domain.images import ImageService
from glint.domain.members import MemberService
from glint.domain.protection import PropertyProtection
from glint.policy import Enforcer
from glint.store.backend import Stores

CONF = cfg.CONF
VERSIONED = re.compile(r'^/v2\.\d+(?=/|$)')


class CallerContext:
    """Falcon middleware: accepts /v2.N/ prefixes and resolves the caller's context."""

    def __init__(self, enforcer: Enforcer):
        self.enforcer = enforcer

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if VERSIONED.match(req.path):
            req.path = VERSIONED.sub('/v2', req.path, count=1)
        ctx = req.env.get(common.CONTEXT_KEY)
        if ctx is None:      # no context filter in the pipeline: trust nothing extra
            ctx = req.env[common.CONTEXT_KEY] = \
                oslo_context.RequestContext.from_environ(req.env)
        if not ctx.is_admin:
            ctx.is_admin = self.enforcer.check(ctx, 'context_is_admin', {})


def build(conf: cfg.ConfigOpts) -> falcon.App:
    checks.enforce(conf, 'glance-api')
    stores = Stores(conf)
    stores.configure()
    enforcer = Enforcer(conf)
    protection = (PropertyProtection(conf, enforcer) if conf.property_protection_file
                  else None)
    gateway = Gateway(conf, db_api.load(conf), stores, enforcer, protection,
                      notifier.build(conf))
    api = common.Api(conf, ImageService(gateway), ImageDataService(gateway),
                     MemberService(gateway))

    app = falcon.App(middleware=[CallerContext(enforcer)])
    app.req_options.strip_url_path_trailing_slash = True
    errors.install(app)
    image_collection = images.Images(api)
    routes = {
        '/': versions.Versions(conf, explicit=False),
        '/versions': versions.Versions(conf, explicit=True),
        '/v2/images': image_collection,
        '/v2/images/{image_id}': images.Image(api, image_collection),
        '/v2/images/{image_id}/file': image_data.ImageFile(api),
        '/v2/images/{image_id}/tags/{tag}': images.Tag(api),
        '/v2/images/{image_id}/actions/deactivate': images.Action(api, 'deactivate'),
        '/v2/images/{image_id}/actions/reactivate': images.Action(api, 'reactivate'),
        '/v2/images/{image_id}/members': members.Members(api),
        '/v2/images/{image_id}/members/{member_id}': members.Member(api),
        '/v2/info/import': discovery.ImportInfo(api),
        '/v2/info/usage': discovery.UsageInfo(api),
        '/v2/info/stores': discovery.StoresInfo(api, detail=False),
        '/v2/info/stores/detail': discovery.StoresInfo(api, detail=True),
        '/v2/stores/{store_id}/{image_id}': images.StoreCopy(api),
    }
    for name, resource in discovery.schema_resources(conf).items():
        routes['/v2/schemas/' + name] = resource
    for path, resource in routes.items():
        app.add_route(path, resource)
    return app


def app_factory(global_conf, **local_conf):
    """paste.app_factory: the API over the already parsed global configuration."""
    return build(CONF)


def load_app(conf: cfg.ConfigOpts = CONF):
    """The glance-api pipeline of glance-api-paste.ini that [paste_deploy] selects."""
    return server.load_paste(conf, 'glance-api')

