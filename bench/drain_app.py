"""A WSGI app that only drains the request body in 4 MiB reads, as Glint's upload does:
served by the same gunicorn (gthread) it measures the ceiling of wsgi.input itself."""


def application(environ, start_response):
    read = environ['wsgi.input'].read
    n = 0
    while chunk := read(4 << 20):
        n += len(chunk)
    start_response('204 No Content', [('X-Bytes', str(n))])
    return [b'']
