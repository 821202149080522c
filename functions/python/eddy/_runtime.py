"""The glue between componentize-py's export and a user's handler: `make_world(handler)`
returns the `WitWorld` class the generated entry module exports.

Knows the WIT export's signature (`handle(event-json) -> result<string, string>`) and the
handler's calling convention; knows nothing of the host.
"""

import os
import sys
import traceback

from .context import Context, Err
from .events import Event, response_json

# How many characters of a handler's exception the function error carries: enough for
# the message and the innermost frames, short enough for the trigger's RecentErrors.
ERROR_MESSAGE_CHARS_MAX = 2000


_SDK_DIR = os.path.dirname(os.path.abspath(__file__))


def _describe(exc):
    """`Type: message (at file:line in function)`, naming the innermost frame of the
    user's code rather than of this SDK (a DynamoDBError is raised inside the SDK)."""
    text = "%s: %s" % (type(exc).__name__, exc)
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if os.path.dirname(os.path.abspath(f.filename)) != _SDK_DIR]
    if own or frames:
        last = (own or frames)[-1]
        text += " (at %s:%d in %s)" % (last.filename.rsplit("/", 1)[-1], last.lineno, last.name)
    return text[:ERROR_MESSAGE_CHARS_MAX]


def make_world(handler):
    """The WitWorld class for `handler(event, ctx)`."""

    class WitWorld:
        def handle(self, event_json):
            try:
                event = Event.from_json(event_json)
                return response_json(handler(event, Context()))
            except Exception as exc:
                # The full traceback goes to stderr (the invocation's logs); the short
                # form is the function error the trigger records.
                traceback.print_exc(file=sys.stderr)
                raise Err(_describe(exc)) from None

    return WitWorld
