"""Error responses in the shape upstream Glance (webob) gives them.

The body follows the client's Accept header as webob negotiates it: HTML unless the
client prefers JSON (openstacksdk asks for JSON; python-glanceclient sends no Accept and
parses the HTML), plain text otherwise.
"""
from __future__ import annotations

import html
import http
import json
import logging

import falcon

from glint.common import exception

LOG = logging.getLogger(__name__)


def _status_line(code: int) -> str:
    return '%d %s' % (code, http.HTTPStatus(code).phrase)


def _preferred(accept: str | None) -> str:
    """text/html, application/json or text/plain, by webob's rules."""
    if not accept:
        return 'text/html'
    best, best_q = 'text/plain', 0.0
    for part in accept.split(','):
        media, _, params = part.strip().partition(';')
        media = media.strip().lower()
        q = 1.0
        for param in params.split(';'):
            key, _, value = param.strip().partition('=')
            if key == 'q':
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        for offer in ('text/html', 'application/json'):
            matches = media in (offer, '*/*', offer.split('/')[0] + '/*')
            if matches and q > best_q:
                best, best_q = offer, q
    return best


def error_body(accept: str | None, code: int, message: str) -> tuple[str, str]:
    """(content type, body) of an error, negotiated as webob does."""
    status = _status_line(code)
    kind = _preferred(accept)
    if kind == 'application/json':
        body = json.dumps({'message': message, 'code': status,
                           'title': http.HTTPStatus(code).phrase})
    elif kind == 'text/html':
        body = ('<html>\n <head>\n  <title>%s</title>\n </head>\n <body>\n  <h1>%s</h1>\n'
                '  %s<br /><br />\n\n\n\n </body>\n</html>'
                % (status, status, html.escape(message)))
    else:
        body = '%s\n\n%s\n\n   ' % (status, message)
    return kind + '; charset=UTF-8', body


def render(resp: falcon.Response, req: falcon.Request, code: int, message: str,
           headers: dict | None = None) -> None:
    resp.status = code
    resp.content_type, resp.text = error_body(req.get_header('Accept'), code, message)
    for name, value in (headers or {}).items():
        resp.set_header(name, value)


def wsgi_error(environ, start_response, code: int, message: str):
    """The same error from plain WSGI middleware (outside the falcon app)."""
    content_type, body = error_body(environ.get('HTTP_ACCEPT'), code, message)
    data = body.encode()
    start_response(_status_line(code), [('Content-Type', content_type),
                                        ('Content-Length', str(len(data)))])
    return [data]


def handle_glint_error(req, resp, ex: exception.GlintError, params):
    if ex.status >= 500:
        LOG.error('%s %s failed: %s', req.method, req.path, ex.msg)
    render(resp, req, ex.status, ex.msg, getattr(ex, 'headers', None))


def handle_http_error(req, resp, ex: falcon.HTTPError, params):
    """Falcon's own errors (unknown route, method not allowed, bad header)."""
    message = ex.description or ex.title or ''
    headers = dict(ex.headers or {})
    render(resp, req, ex.status_code, message, headers)


def handle_unexpected(req, resp, ex: Exception, params):
    LOG.exception('Unexpected error in %s %s', req.method, req.path)
    render(resp, req, 500, 'The server has either erred or is incapable of performing '
                           'the requested operation.')


def install(app: falcon.App) -> None:
    app.add_error_handler(Exception, handle_unexpected)
    app.add_error_handler(falcon.HTTPError, handle_http_error)
    app.add_error_handler(exception.GlintError, handle_glint_error)
