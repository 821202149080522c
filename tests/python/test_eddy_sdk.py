"""Unit tests of the Python SDK's pure parts (functions/python/eddy) on plain CPython:
the DynamoDB JSON codec, the decoded event accessors and the batch response.

Run: python tests/python/test_eddy_sdk.py (tests/e2e/function_python.rs runs it).
The WIT-backed parts (ctx) are exercised by the e2e test through a deployed function.
"""

import base64
import json
import os
import sys
import unittest
from decimal import Decimal

sys.dont_write_bytecode = True  # keep functions/python free of __pycache__
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "functions", "python"))

import eddy  # noqa: E402
from eddy.events import response_json  # noqa: E402


class Decode(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(eddy.decode({"S": "héllo"}), "héllo")
        self.assertEqual(eddy.decode({"BOOL": True}), True)
        self.assertIs(eddy.decode({"NULL": True}), None)
        self.assertEqual(eddy.decode({"B": base64.b64encode(b"\x00\xff").decode()}), b"\x00\xff")

    def test_integral_numbers_are_ints_and_others_decimals(self):
        self.assertEqual(eddy.decode({"N": "42"}), 42)
        self.assertIsInstance(eddy.decode({"N": "42"}), int)
        self.assertEqual(eddy.decode({"N": "-7"}), -7)
        self.assertEqual(eddy.decode({"N": "1E+2"}), 100)
        self.assertIsInstance(eddy.decode({"N": "1.0"}), int)
        self.assertEqual(eddy.decode({"N": "1.5"}), Decimal("1.5"))
        self.assertIsInstance(eddy.decode({"N": "1.5"}), Decimal)
        # All 38 digits DynamoDB keeps survive (a float would lose them).
        big = "12345678901234567890123456789012345678"
        self.assertEqual(eddy.decode({"N": big}), int(big))
        frac = "0.12345678901234567890123456789012345678"
        self.assertEqual(str(eddy.decode({"N": frac})), frac)

    def test_sets_lists_maps(self):
        self.assertEqual(eddy.decode({"SS": ["a", "b"]}), {"a", "b"})
        self.assertEqual(eddy.decode({"NS": ["1", "2.5"]}), {1, Decimal("2.5")})
        self.assertEqual(eddy.decode({"BS": ["AA==", "AQ=="]}), {b"\x00", b"\x01"})
        self.assertEqual(
            eddy.decode({"L": [{"S": "x"}, {"M": {"n": {"N": "3"}, "z": {"NULL": True}}}]}),
            ["x", {"n": 3, "z": None}],
        )

    def test_malformed_values_are_refused(self):
        with self.assertRaises(ValueError):
            eddy.decode({"X": "1"})
        with self.assertRaises(ValueError):
            eddy.decode({"S": "a", "N": "1"})


class Encode(unittest.TestCase):
    def test_scalars(self):
        self.assertEqual(eddy.encode("x"), {"S": "x"})
        self.assertEqual(eddy.encode(True), {"BOOL": True})  # not N: bool is an int in Python
        self.assertEqual(eddy.encode(None), {"NULL": True})
        self.assertEqual(eddy.encode(7), {"N": "7"})
        self.assertEqual(eddy.encode(2.5), {"N": "2.5"})
        self.assertEqual(eddy.encode(Decimal("0.10")), {"N": "0.10"})
        self.assertEqual(eddy.encode(b"\x00\xff"), {"B": "AP8="})
        self.assertEqual(eddy.encode(bytearray(b"a")), {"B": "YQ=="})

    def test_containers(self):
        self.assertEqual(eddy.encode(["a", 1]), {"L": [{"S": "a"}, {"N": "1"}]})
        self.assertEqual(eddy.encode(("a",)), {"L": [{"S": "a"}]})
        self.assertEqual(eddy.encode({"k": {"n": 1}}), {"M": {"k": {"M": {"n": {"N": "1"}}}}})
        self.assertEqual(eddy.encode({"b", "a"}), {"SS": ["a", "b"]})
        self.assertEqual(eddy.encode(frozenset({2, 1})), {"NS": ["1", "2"]})
        self.assertEqual(eddy.encode({b"\x01", b"\x00"}), {"BS": ["AA==", "AQ=="]})

    def test_unencodable_values_are_refused(self):
        for bad in (set(), {"a", 1}, float("nan"), float("inf"), Decimal("NaN"), object()):
            with self.assertRaises((TypeError, ValueError), msg=repr(bad)):
                eddy.encode(bad)
        with self.assertRaises(TypeError):
            eddy.encode_item({1: "x"})

    def test_round_trip(self):
        item = {
            "id": "u-1",
            "n": 12,
            "price": Decimal("9.99"),
            "blob": b"\x00\x01",
            "tags": {"a", "b"},
            "scores": {1, 2},
            "flag": False,
            "none": None,
            "nested": {"list": [1, "two", {"three": Decimal("3.5")}], "empty": {}},
        }
        wire = json.loads(json.dumps(eddy.encode_item(item)))
        self.assertEqual(eddy.decode_item(wire), item)


def stream_event():
    return json.dumps({
        "Records": [
            {
                "eventID": "e1",
                "eventName": "MODIFY",
                "eventVersion": "1.1",
                "eventSource": "aws:dynamodb",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x",
                "dynamodb": {
                    "ApproximateCreationDateTime": 1796653649,
                    "Keys": {"id": {"S": "a"}},
                    "NewImage": {"id": {"S": "a"}, "n": {"N": "2"}},
                    "OldImage": {"id": {"S": "a"}, "n": {"N": "1.5"}},
                    "SequenceNumber": "100000000000000000001",
                    "SizeBytes": 20,
                    "StreamViewType": "NEW_AND_OLD_IMAGES",
                },
            },
            {
                "eventID": "e2",
                "eventName": "REMOVE",
                "dynamodb": {
                    "Keys": {"id": {"S": "b"}},
                    "OldImage": {"id": {"S": "b"}},
                    "SequenceNumber": "100000000000000000002",
                },
            },
        ]
    })


class Events(unittest.TestCase):
    def test_records_decode_and_the_raw_lambda_shape_stays(self):
        event = eddy.Event.from_json(stream_event())
        self.assertFalse(event.is_scheduled)
        first, second = event.records
        self.assertEqual(first.event_name, "MODIFY")
        self.assertEqual(first.event_id, "e1")
        self.assertEqual(first.keys, {"id": "a"})
        self.assertEqual(first.new_image, {"id": "a", "n": 2})
        self.assertEqual(first.old_image, {"id": "a", "n": Decimal("1.5")})
        self.assertEqual(first.sequence_number, "100000000000000000001")
        self.assertEqual(first.stream_view_type, "NEW_AND_OLD_IMAGES")
        self.assertEqual(second.event_name, "REMOVE")
        self.assertIsNone(second.new_image)
        # Code written for AWS Lambda reads the raw DynamoDB JSON.
        self.assertEqual(event["Records"][0]["dynamodb"]["NewImage"]["n"], {"N": "2"})
        self.assertIs(event["Records"][1], second)

    def test_records_stay_plain_dicts_for_json_and_copies(self):
        # Record.keys is the item's key, not dict.keys(): what uses the dict underneath
        # (json, dict(), copy, unpacking) must not trip over it.
        import copy

        raw = json.loads(stream_event())
        event = eddy.Event.from_json(stream_event())
        self.assertEqual(json.loads(json.dumps(event)), raw)
        record = event.records[0]
        self.assertEqual(dict(record), raw["Records"][0])
        self.assertEqual({**record}, raw["Records"][0])
        self.assertEqual(copy.deepcopy(record), raw["Records"][0])
        self.assertEqual(sorted(dict.keys(record))[:2], ["awsRegion", "dynamodb"])

    def test_scheduled_event(self):
        event = eddy.Event.from_json(json.dumps({
            "version": "0", "id": "x", "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "000000000000", "time": "2026-12-07T03:00:00Z", "region": "us-east-1",
            "resources": ["arn:aws:events:us-east-1:000000000000:rule/nightly"], "detail": {},
        }))
        self.assertTrue(event.is_scheduled)
        self.assertEqual(event.records, [])
        self.assertEqual(event.time, "2026-12-07T03:00:00Z")

    def test_tumbling_window_fields(self):
        event = eddy.Event.from_json(json.dumps({
            "Records": [], "state": {"count": 3}, "window": {"start": "a", "end": "b"},
            "shardId": "shardId-1", "isFinalInvokeForWindow": True,
            "isWindowTerminatedEarly": False,
        }))
        self.assertEqual(event.state, {"count": 3})
        self.assertTrue(event.is_final_invoke_for_window)
        self.assertFalse(event.is_window_terminated_early)


class Responses(unittest.TestCase):
    def test_nothing_means_success(self):
        self.assertEqual(response_json(None), "")

    def test_batch_response_names_the_failed_records(self):
        event = eddy.Event.from_json(stream_event())
        response = eddy.BatchResponse()
        response.fail(event.records[1])
        response.fail("100000000000000000003")
        self.assertEqual(json.loads(response_json(response)), {"batchItemFailures": [
            {"itemIdentifier": "100000000000000000002"},
            {"itemIdentifier": "100000000000000000003"},
        ]})
        with self.assertRaises(ValueError):
            response.fail(None)

    def test_state_and_plain_dicts_pass_through(self):
        response = eddy.BatchResponse(state={"total": Decimal("2.5"), "n": Decimal("2")})
        self.assertEqual(json.loads(response_json(response)),
                         {"batchItemFailures": [], "state": {"total": 2.5, "n": 2}})
        raw = {"batchItemFailures": [{"itemIdentifier": "1"}]}
        self.assertEqual(json.loads(response_json(raw)), raw)

    def test_other_return_values_are_refused(self):
        with self.assertRaises(TypeError):
            response_json(["not", "a", "response"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
