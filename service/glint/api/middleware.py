"""Paste filters that turn a request into the caller's oslo.context RequestContext.

``context`` follows keystonemiddleware's auth_token (X-Identity-Status and the X-*
headers it sets); ``unauthenticated_context`` is the no-auth flavor: X-* headers when the
client sends them, otherwise an administrator with no project, as in Glance.
``authtoken`` is keystonemiddleware's, answering 503 when Keystone cannot be reached.
"""
from __future__ import annotations

import webob.exc
from keystoneauth1 import exceptions as ksa_exceptions
from keystonemiddleware import auth_token
from keystonemiddleware.auth_token import _exceptions as ksm_exceptions
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


class KeystoneAuth(auth_token.AuthProtocol):
    """keystonemiddleware's auth_token. Under delay_auth_decision (Glance's setting, so
    that version discovery needs no token) it takes a Keystone it cannot reach for a
    bad token, and the caller would get 401 and drop a good token; this answers 503,
    as keystonemiddleware does without delay_auth_decision. It also lets a connect
    timeout (a hung Keystone) escape as a 500; that too is 503 here."""

    def fetch_token(self, token, **kwargs):
        try:
            return super().fetch_token(token, **kwargs)
        except ksm_exceptions.InvalidToken as e:
            # keystonemiddleware's only mark of this case is its message.
            if not str(e).startswith('Keystone unavailable'):
                raise
            self.log.warning('Keystone cannot be reached: %s', e)
        except ksa_exceptions.ConnectionError as e:
            self.log.warning('Keystone cannot be reached: %s', e)
        raise webob.exc.HTTPServiceUnavailable(
            'The Keystone service is temporarily unavailable.')


def auth_token_filter(global_conf, **local_conf):
    conf = dict(global_conf, **local_conf)
    return lambda app: KeystoneAuth(app, conf)
