"""The glue between componentize-py's export and a user's handler: `make_world(handler)`
returns the `WitWorld` class the generated entry module exports.

Knows the WIT export's signature (`handle(event-json) -> result<string, string>`) and the
handler's calling convention; knows nothing of the host.
"""

import ast
import importlib
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


def preimport(module_name):
    """Imports, now, every module the project's source names in an import statement.

    The entry module calls this at build time: componentize-py snapshots the interpreter
    after the entry module's imports, and at run time there is no file system, so a module
    first imported inside the handler (`def handler(...): import fractions`) would not
    be found. Imported here, it is in the snapshot's sys.modules and that import finds
    it. A name that fails to import (an optional dependency behind try/except) is
    skipped: the handler's own import then fails the same way it would have.
    """
    module = sys.modules[module_name]
    root = os.path.dirname(os.path.abspath(module.__file__))
    if os.path.basename(module.__file__) == "__init__.py":
        root = os.path.dirname(root)
    for _ in range(module_name.count(".")):
        root = os.path.dirname(root)
    for name in sorted(_imported_names(root)):
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001 - see the docstring
            pass


def _imported_names(root):
    """The absolute module names in the import statements of the .py files under root."""
    names = set()
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in ("target", "__pycache__") and not d.startswith(".")]
        for file in files:
            if not file.endswith(".py"):
                continue
            try:
                with open(os.path.join(directory, file), encoding="utf-8") as source:
                    tree = ast.parse(source.read())
            except (OSError, SyntaxError, UnicodeDecodeError):
                continue
            for node in ast.walk(tree):
                if isinstance(node, ast.Import):
                    names.update(alias.name for alias in node.names)
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names.add(node.module)
                    # `from package import submodule` imports a module too.
                    names.update(node.module + "." + alias.name for alias in node.names)
    return names


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
