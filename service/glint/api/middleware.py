"""Paste filters that turn a request into the caller's oslo.context RequestContext.

``context`` follows keystonemiddleware's auth_token (X-Identity-Status and the X-*
headers it sets); ``unauthenticated_context`` is the no-auth flavor: X-* headers when the
client sends them, otherwise an administrator with no project, as in Glance.
"""
from __future__ import annotations

from oslo_context import context as oslo_context

from glint.api.errors import wsgi_error
from glint.context import CONTEXT_KEY

ANONYMOUS_PATHS = frozenset({'', '/', '/versions'})
IDENTITY_HEADERS = ('HTTP_X_ROLES', 'HTTP_X_PROJECT_ID', 'HTTP_X_TENANT_ID',
                    'HTTP_X_USER_ID')


class _ContextFilter:
    def __init__(self, app):
        self.app = app

    @classmethod
    def factory(cls, global_conf, **local_conf):
        return cls


class ContextMiddleware(_ContextFilter):
    def __call__(self, environ, start_response):
        if environ.get('HTTP_X_IDENTITY_STATUS') == 'Confirmed':
            environ[CONTEXT_KEY] = oslo_context.RequestContext.from_environ(environ)
        elif environ.get('PATH_INFO', '') not in ANONYMOUS_PATHS:
            return wsgi_error(environ, start_response, 401,
                              'This server could not verify that you are authorized to '
                              'access the document you requested.')
        return self.app(environ, start_response)


class UnauthenticatedContextMiddleware(_ContextFilter):
    def __call__(self, environ, start_response):
        if any(h in environ for h in IDENTITY_HEADERS):
            ctx = oslo_context.RequestContext.from_environ(environ)
        else:
            ctx = oslo_context.RequestContext(is_admin=True,
                                              roles=['admin', 'member', 'reader'])
        environ[CONTEXT_KEY] = ctx
        return self.app(environ, start_response)
