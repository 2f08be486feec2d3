"""The caller's oslo.context RequestContext in the WSGI environ, as glance-api and
glance-registry both find it: the context filters (glint.api.middleware) put it there."""
from __future__ import annotations

from oslo_context import context as oslo_context

CONTEXT_KEY = 'glint.context'


def from_environ(environ: dict) -> oslo_context.RequestContext:
    """The filters' context; without a context filter in the pipeline, the X-* headers'
    as oslo.context reads them (kept for the rest of the request)."""
    ctx = environ.get(CONTEXT_KEY)
    if ctx is None:
        ctx = environ[CONTEXT_KEY] = oslo_context.RequestContext.from_environ(environ)
    return ctx
