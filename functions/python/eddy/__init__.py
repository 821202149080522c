"""eddy: write Eddy functions in Python, like AWS Lambda handlers.

    def handler(event, ctx):
        for record in event.records:
            ctx.log.info(record.event_name, id=record.keys["id"])
            if record.new_image:
                ctx.dynamodb.put("audit", record.new_image)

`event` is the Lambda event (`event["Records"]` works as on Lambda) with decoded accessors
(`event.records[i].new_image` is a dict of native values); `ctx` reaches the host's
capabilities. Return None when every record succeeded, or an `eddy.BatchResponse` naming
the failed records; raising is a function error (the batch is retried).

This package is pure Python. `build.sh` compiles it with the handler into a WebAssembly
component of functions/wit/function.wit with componentize-py.
"""

from .context import Context, DynamoDBError, EmailError, SearchError, SearchHit
from .dynamodb_json import decode, decode_item, encode, encode_item
from .events import BatchResponse, Event, Record
from .http import HttpError, Response

__all__ = [
    "BatchResponse",
    "Context",
    "DynamoDBError",
    "EmailError",
    "Event",
    "HttpError",
    "Record",
    "Response",
    "SearchError",
    "SearchHit",
    "decode",
    "decode_item",
    "encode",
    "encode_item",
]

# Tracebacks and reprs name the public path (`eddy.DynamoDBError`), not the submodule.
for _public in (BatchResponse, Context, DynamoDBError, EmailError, Event, HttpError, Record,
                Response, SearchError, SearchHit):
    _public.__module__ = __name__
del _public
