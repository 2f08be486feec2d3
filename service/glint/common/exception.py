"""Errors of the domain and store layers; the API maps each to Glance's status code."""
from __future__ import annotations


class GlintError(Exception):
    """Base error: ``status`` is the HTTP code the API answers with."""
    status = 500
    message = 'An unknown error occurred.'

    def __init__(self, message: str | None = None):
        super().__init__(message or self.message)
        self.msg = message or self.message


class BadRequest(GlintError):
    status = 400
    message = 'The request is invalid.'


class Forbidden(GlintError):
    status = 403
    message = 'You are not authorized to complete this action.'


class NotFound(GlintError):
    status = 404
    message = 'The resource could not be found.'


class Conflict(GlintError):
    status = 409
    message = 'There is a conflict with the current state of the resource.'


class RequestEntityTooLarge(GlintError):
    status = 413
    message = 'The request is larger than the server is willing to accept.'


class UnsupportedMediaType(GlintError):
    status = 415
    message = 'The media type of the request is not supported.'


class RangeNotSatisfiable(GlintError):
    status = 416
    message = 'The requested range is not satisfiable.'


class ServiceUnavailable(GlintError):
    status = 503
    message = 'The service is unavailable.'


class StorageFull(RequestEntityTooLarge):
    message = 'There is not enough disk space on the image storage media.'


class ClientDisconnected(BadRequest):
    message = 'The client went away before sending all image data.'


class StoreError(GlintError):
    """A back end failed for reasons of its own (I/O error, remote store down)."""
    status = 503
    message = 'The image store failed.'


class Gone(GlintError):
    status = 410
    message = 'The resource is gone.'


class InvalidConfig(GlintError):
    """A setting the service cannot honour: it refuses to start (glint.checks)."""

    def __init__(self, group: str | None, option: str, why: str):
        super().__init__(why)
        self.group = group
        self.option = option
