"""The events a Python handler receives and the batch response it returns.

`Event` and `Record` are dicts of the original Lambda JSON (so `event["Records"]` code
written for AWS Lambda keeps working) with attribute-style accessors that decode DynamoDB
JSON to native values. Pure Python: no WIT imports, testable on plain CPython. Knows
Lambda's JSON shapes; knows nothing of the host.
"""

import json
from decimal import Decimal

from .dynamodb_json import decode_item

__all__ = ["Event", "Record", "BatchResponse", "response_json"]


class Record(dict):
    """One DynamoDB stream record: the raw Lambda dict plus decoded accessors."""

    @property
    def event_id(self):
        return self.get("eventID")

    @property
    def event_name(self):
        """"INSERT", "MODIFY" or "REMOVE"."""
        return self.get("eventName")

    @property
    def event_source_arn(self):
        return self.get("eventSourceARN")

    @property
    def _data(self):
        return self.get("dynamodb") or {}

    @property
    def keys(self):
        """The item's key as a dict of native values.

        Shadows dict.keys(): a Record is a stream record first; use `dict.keys(record)` for
        the raw field names.
        """
        return decode_item(self._data.get("Keys")) or {}

    @property
    def new_image(self):
        """The item after the change (native values), or None (REMOVE, or KEYS_ONLY/OLD_IMAGE)."""
        return decode_item(self._data.get("NewImage"))

    @property
    def old_image(self):
        """The item before the change (native values), or None (INSERT, or KEYS_ONLY/NEW_IMAGE)."""
        return decode_item(self._data.get("OldImage"))

    @property
    def sequence_number(self):
        return self._data.get("SequenceNumber")

    @property
    def approximate_creation_time(self):
        return self._data.get("ApproximateCreationDateTime")

    @property
    def size_bytes(self):
        return self._data.get("SizeBytes")

    @property
    def stream_view_type(self):
        return self._data.get("StreamViewType")

    @property
    def user_identity(self):
        """Lambda's userIdentity (set for deletions by TTL), or None."""
        return self.get("userIdentity")

    def __repr__(self):
        return "Record(%s %s keys=%r)" % (self.event_name, self.sequence_number, self.keys)


class Event(dict):
    """The event of one invocation: a stream batch or a scheduled tick (`is_scheduled`)."""

    @classmethod
    def from_json(cls, text):
        event = cls(json.loads(text))
        raw = event.get("Records")
        if isinstance(raw, list):
            # Replace the list in place so that event["Records"][i] is the same Record.
            event["Records"] = [Record(r) if isinstance(r, dict) else r for r in raw]
        return event

    @property
    def records(self):
        """The stream records, oldest first ([] for a scheduled event)."""
        return self.get("Records") or []

    @property
    def is_scheduled(self):
        """True for an EventBridge scheduled event (a [[schedule]] tick)."""
        return self.get("detail-type") == "Scheduled Event" or self.get("source") == "aws.events"

    @property
    def time(self):
        """A scheduled event's time (RFC 3339), or None."""
        return self.get("time")

    @property
    def detail(self):
        """A scheduled event's detail object, or None."""
        return self.get("detail")

    # Tumbling windows (a trigger with a window): the state the previous invocation of
    # this window returned, and the window's bounds and flags.
    @property
    def state(self):
        return self.get("state") or {}

    @property
    def window(self):
        return self.get("window")

    @property
    def shard_id(self):
        return self.get("shardId")

    @property
    def is_final_invoke_for_window(self):
        return bool(self.get("isFinalInvokeForWindow"))

    @property
    def is_window_terminated_early(self):
        return bool(self.get("isWindowTerminatedEarly"))


class BatchResponse:
    """Lambda's partial batch response: the records that failed (retried from the first
    of them on) and, with a tumbling window, the state to carry on.

        response = eddy.BatchResponse()
        for record in event.records:
            if not handled(record):
                response.fail(record)
        return response
    """

    def __init__(self, state=None):
        self.failures = []
        self.state = state

    def fail(self, record):
        """Marks a record (a Record, or its sequence number) as failed."""
        seq = record.sequence_number if isinstance(record, Record) else record
        if not isinstance(seq, str) or not seq:
            raise ValueError("fail() takes a Record or its sequence number, not %r" % (record,))
        self.failures.append(seq)

    def to_dict(self):
        out = {"batchItemFailures": [{"itemIdentifier": seq} for seq in self.failures]}
        if self.state is not None:
            out["state"] = self.state
        return out


def _json_default(value):
    # Numbers decoded from DynamoDB are Decimals when fractional; JSON has room for them.
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, BatchResponse):
        return value.to_dict()
    raise TypeError("%s is not JSON serializable" % type(value).__name__)


def response_json(result):
    """The WIT `handle` return string for what a handler returned.

    None (or True) means every record succeeded; a BatchResponse or Lambda's own dict
    (`{"batchItemFailures": [...]}`, optionally with `state`) pass through.
    """
    if result is None or result is True:
        return ""
    if isinstance(result, BatchResponse):
        result = result.to_dict()
    if not isinstance(result, dict):
        raise TypeError(
            "a handler returns None, an eddy.BatchResponse or a dict like "
            '{"batchItemFailures": [...]}, not %s' % type(result).__name__
        )
    return json.dumps(result, default=_json_default)
