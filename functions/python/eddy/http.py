"""Outbound HTTP for Python functions (`ctx.http`), over WASI's own
`wasi:http/outgoing-handler` (functions/python/wit/http.wit). The host lets a request
through only to the hosts granted to the deployment (`hosts` in eddy.toml); any other
fails with wasi:http's `HTTP-request-denied`, raised here as HttpError.

Synchronous: each call blocks until the response body is read. Knows the wasi:http
bindings; knows nothing of events or the function world. Like context.py it imports the
bindings at module level (none are found at run time otherwise) and works on plain
CPython only as far as importing.
"""

from urllib.parse import urlsplit

try:
    from componentize_py_types import Err, Ok
    from wit_world.imports import outgoing_handler as _handler
    from wit_world.imports import streams as _streams
    from wit_world.imports import types as _types
except ImportError:  # plain CPython: no component, no host
    Err = Ok = _handler = _streams = _types = None

__all__ = ["Http", "HttpError", "Response"]

# Bytes written to or read from a wasi:io stream per call: blocking-write-and-flush
# accepts at most 4096 bytes at once.
STREAM_CHUNK_BYTES = 4096
# The largest response body a call reads; a bigger one is an HttpError rather than a
# function that runs out of memory.
RESPONSE_BODY_BYTES_MAX = 16 * 1024 * 1024


class HttpError(Exception):
    """The request could not be made or its response not read (denied host, DNS, refused
    connection, timeout, ...): the message names wasi:http's error code."""


class Response:
    """A response: `status` (int), `headers` (a list of (name, value) pairs, names in
    lower case), `body` (bytes); `text()` and `json()` decode the body."""

    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    def header(self, name):
        """The first value of header `name` (any case), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def json(self):
        import json

        return json.loads(self.body)

    def __repr__(self):
        return "Response(%d, %d bytes)" % (self.status, len(self.body))


_METHODS = {
    "GET": "Method_Get", "HEAD": "Method_Head", "POST": "Method_Post", "PUT": "Method_Put",
    "DELETE": "Method_Delete", "OPTIONS": "Method_Options", "PATCH": "Method_Patch",
}


def _error_text(value):
    name = type(value).__name__.split("_", 1)[-1]
    detail = getattr(value, "value", None)
    return name if detail is None else "%s: %s" % (name, detail)


class Http:
    """`ctx.http`: `get(url)`, `post(url, body)`, or `request(method, url, headers, body)`."""

    def get(self, url, headers=None):
        return self.request("GET", url, headers)

    def post(self, url, body=b"", headers=None):
        return self.request("POST", url, headers, body)

    def request(self, method, url, headers=None, body=None):
        """Sends the request and returns its Response. `body` is bytes or str (UTF-8)."""
        if _types is None:
            raise RuntimeError("eddy's host capabilities exist only inside a built component")
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise HttpError("not an http:// or https:// URL: %r" % (url,))
        if isinstance(body, str):
            body = body.encode("utf-8")
        fields = _types.Fields.from_list(
            [(str(k).lower(), str(v).encode("utf-8")) for k, v in (headers or {}).items()]
        )
        request = _types.OutgoingRequest(fields)
        method = method.upper()
        if method in _METHODS:
            request.set_method(getattr(_types, _METHODS[method])())
        else:
            request.set_method(_types.Method_Other(method))
        request.set_scheme(_types.Scheme_Https() if parts.scheme == "https" else _types.Scheme_Http())
        request.set_authority(parts.netloc)
        request.set_path_with_query((parts.path or "/") + ("?" + parts.query if parts.query else ""))
        outgoing = request.body()
        try:
            future = _handler.handle(request, None)
        except Err as err:
            raise HttpError(_error_text(err.value)) from None
        self._write_body(outgoing, body or b"")
        return self._response(future)

    def _write_body(self, outgoing, body):
        # wasi:http wants a child resource dropped before its parent is used again:
        # the stream before the body is finished (hence `with`).
        try:
            with outgoing.write() as stream:
                for start in range(0, len(body), STREAM_CHUNK_BYTES):
                    stream.blocking_write_and_flush(body[start:start + STREAM_CHUNK_BYTES])
            _types.OutgoingBody.finish(outgoing, None)
        except Err as err:
            raise HttpError("sending the request failed: %s" % _error_text(err.value)) from None

    def _response(self, future):
        with future:
            result = future.get()
            while result is None:
                with future.subscribe() as ready:
                    ready.block()
                result = future.get()
        if isinstance(result, Err):
            raise HttpError("the response was already taken")
        if isinstance(result.value, Err):
            raise HttpError(_error_text(result.value.value))
        with result.value.value as response:
            status = response.status()
            with response.headers() as fields:
                headers = [(k, v.decode("utf-8", errors="replace")) for k, v in fields.entries()]
            with response.consume() as incoming:
                body = self._read_body(incoming)
        return Response(status, headers, body)

    def _read_body(self, incoming):
        chunks = []
        size = 0
        with incoming.stream() as stream:
            while True:
                try:
                    chunk = stream.blocking_read(STREAM_CHUNK_BYTES)
                except Err as err:
                    if isinstance(err.value, _streams.StreamError_Closed):
                        break
                    raise HttpError("reading the response failed: %s" % _error_text(err.value)) from None
                size += len(chunk)
                if size > RESPONSE_BODY_BYTES_MAX:
                    raise HttpError("the response body is larger than %d bytes" % RESPONSE_BODY_BYTES_MAX)
                chunks.append(chunk)
        return b"".join(chunks)
