// Unit tests of the JavaScript SDK's pure modules (the DynamoDB JSON codec, events and
// responses), run with plain Node: `node --test functions/js/test/codec.test.mjs`. The
// e2e suite runs them too (tests/e2e/function_js.rs), so they are part of every test run.

import test from 'node:test';
import assert from 'node:assert/strict';

import {
  Decimal,
  decodeNumber,
  fromAttributeValue,
  fromBase64,
  marshall,
  toAttributeValue,
  toBase64,
  unmarshall,
} from '../eddy/codec.js';
import { BatchResponse, decodeEvent, encodeResponse } from '../eddy/event.js';
import { makeDynamoDB, runHandler } from '../eddy/context.js';

test('scalars decode to native values', () => {
  assert.equal(fromAttributeValue({ S: 'hé' }), 'hé');
  assert.equal(fromAttributeValue({ BOOL: false }), false);
  assert.equal(fromAttributeValue({ NULL: true }), null);
  assert.deepEqual(fromAttributeValue({ B: 'AAEC/w==' }), new Uint8Array([0, 1, 2, 255]));
});

test('numbers: exact JS numbers, else BigInt for integers, else Decimal', () => {
  assert.equal(decodeNumber('42'), 42);
  assert.equal(decodeNumber('-7'), -7);
  assert.equal(decodeNumber('1.5'), 1.5);
  assert.equal(decodeNumber('1.50'), 1.5);
  assert.equal(decodeNumber('0.1'), 0.1);
  assert.equal(decodeNumber('1E+2'), 100);
  assert.equal(decodeNumber('9007199254740991'), Number.MAX_SAFE_INTEGER);
  assert.equal(decodeNumber('9007199254740993'), 9007199254740993n);
  // Exact as a double, but past the safe range: still a BigInt, so arithmetic stays exact.
  assert.equal(decodeNumber('1152921504606846976'), 1152921504606846976n);
  assert.equal(decodeNumber('-12345678901234567890123'), -12345678901234567890123n);
  assert.equal(decodeNumber('1E+30'), 10n ** 30n);
  const d = decodeNumber('0.1000000000000000000000000000000000001');
  assert.ok(d instanceof Decimal);
  assert.equal(d.toString(), '0.1000000000000000000000000000000000001');
  assert.equal(+d, 0.1);
  assert.throws(() => decodeNumber('abc'), /not a DynamoDB number/);
});

test('sets, lists and maps decode recursively', () => {
  const item = unmarshall({
    id: { S: 'u1' },
    tags: { SS: ['a', 'b'] },
    scores: { NS: ['1', '2.5', '99999999999999999999'] },
    blobs: { BS: ['AA=='] },
    list: { L: [{ N: '1' }, { S: 'x' }, { M: { deep: { BOOL: true } } }] },
    map: { M: { nested: { L: [] }, none: { NULL: true } } },
  });
  assert.deepEqual(item, {
    id: 'u1',
    tags: new Set(['a', 'b']),
    scores: new Set([1, 2.5, 99999999999999999999n]),
    blobs: new Set([new Uint8Array([0])]),
    list: [1, 'x', { deep: true }],
    map: { nested: [], none: null },
  });
});

test('encoding is the inverse of decoding', () => {
  const dynamo = {
    id: { S: 'u1' },
    n: { N: '3' },
    f: { N: '0.25' },
    big: { N: '12345678901234567890' },
    dec: { N: '3.14159265358979323846264338327950288' },
    ok: { BOOL: true },
    nothing: { NULL: true },
    bytes: { B: 'aGVsbG8=' },
    ss: { SS: ['x', 'y'] },
    ns: { NS: ['1', '2'] },
    bs: { BS: ['AQ==', 'Ag=='] },
    l: { L: [{ S: 'a' }, { L: [] }] },
    m: { M: { k: { N: '-1' } } },
  };
  assert.deepEqual(marshall(unmarshall(dynamo)), dynamo);
});

test('encoding native values', () => {
  assert.deepEqual(toAttributeValue('s'), { S: 's' });
  assert.deepEqual(toAttributeValue(10n), { N: '10' });
  assert.deepEqual(toAttributeValue(new Decimal('1.000000000000000000001')), {
    N: '1.000000000000000000001',
  });
  assert.deepEqual(toAttributeValue(new Map([['a', 1]])), { M: { a: { N: '1' } } });
  assert.deepEqual(toAttributeValue([undefined]), { L: [{ NULL: true }] });
  // An undefined attribute is left out, as JSON.stringify leaves it out.
  assert.deepEqual(marshall({ a: 1, b: undefined }), { a: { N: '1' } });
  assert.deepEqual(toAttributeValue(new Uint16Array([1])), { B: 'AQA=' });
});

test('values without a DynamoDB form are TypeErrors naming where they are', () => {
  assert.throws(() => marshall({ a: { b: NaN } }), { name: 'TypeError', message: /item\.a\.b: NaN/ });
  assert.throws(() => marshall({ s: new Set() }), /item\.s: an empty Set/);
  assert.throws(() => marshall({ s: new Set(['a', 1]) }), /item\.s: a Set must hold only/);
  assert.throws(() => marshall({ d: new Date(0) }), /item\.d: a Date has no DynamoDB form/);
  assert.throws(() => marshall({ f: () => 1 }), /item\.f: a function has no DynamoDB form/);
  assert.throws(() => marshall([1]), /an item must be an object/);
  assert.throws(() => fromAttributeValue({ S: 'a', N: '1' }), /exactly one type/);
  assert.throws(() => fromAttributeValue({ X: 1 }), /unknown DynamoDB type "X"/);
});

test('base64 round-trips every length', () => {
  for (let n = 0; n < 10; n++) {
    const bytes = new Uint8Array(n).map((_, i) => (i * 97 + 13) & 255);
    const text = toBase64(bytes);
    assert.equal(text, Buffer.from(bytes).toString('base64'));
    assert.deepEqual(fromBase64(text), bytes);
  }
  assert.throws(() => fromBase64('a*b'), /not base64/);
});

const STREAM_EVENT = JSON.stringify({
  Records: [
    {
      eventID: 'e1',
      eventName: 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'us-east-1',
      eventSourceARN: 'arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/x',
      dynamodb: {
        ApproximateCreationDateTime: 1700000000,
        Keys: { id: { S: 'a' } },
        NewImage: { id: { S: 'a' }, n: { N: '2' } },
        OldImage: { id: { S: 'a' }, n: { N: '1' } },
        SequenceNumber: '000000000000000000001',
        SizeBytes: 20,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    },
  ],
});

test('a stream event keeps Lambda\'s shape and adds decoded records', () => {
  const event = decodeEvent(STREAM_EVENT);
  assert.equal(event.Records[0].dynamodb.NewImage.n.N, '2');
  assert.equal(event.isStream, true);
  assert.equal(event.isScheduled, false);
  const [r] = event.records;
  assert.equal(r.eventName, 'MODIFY');
  assert.equal(r.eventId, 'e1');
  assert.deepEqual(r.keys, { id: 'a' });
  assert.deepEqual(r.newImage, { id: 'a', n: 2 });
  assert.deepEqual(r.oldImage, { id: 'a', n: 1 });
  assert.equal(r.sequenceNumber, '000000000000000000001');
  // The additions are not enumerable: the event prints as Lambda sent it.
  assert.equal(JSON.stringify(event), STREAM_EVENT);
});

test('a scheduled event is recognisable', () => {
  const event = decodeEvent(
    JSON.stringify({
      version: '0',
      id: 'x',
      'detail-type': 'Scheduled Event',
      source: 'aws.events',
      time: '2026-01-01T00:00:00Z',
      resources: [],
      detail: {},
    }),
  );
  assert.equal(event.isScheduled, true);
  assert.equal(event.isStream, false);
  assert.deepEqual(event.records, []);
});

test('responses: nothing, a BatchResponse, or Lambda\'s own object', () => {
  const [r] = decodeEvent(STREAM_EVENT).records;
  assert.equal(encodeResponse(undefined), '{}');
  assert.equal(
    encodeResponse(new BatchResponse().fail(r)),
    '{"batchItemFailures":[{"itemIdentifier":"000000000000000000001"}]}',
  );
  assert.equal(
    encodeResponse(new BatchResponse().fail('7').withState({ count: 1n })),
    '{"batchItemFailures":[{"itemIdentifier":"7"}],"state":{"count":"1"}}',
  );
  assert.equal(
    encodeResponse({ batchItemFailures: [{ itemIdentifier: '9' }] }),
    '{"batchItemFailures":[{"itemIdentifier":"9"}]}',
  );
  assert.throws(() => encodeResponse('ok'), /a handler returns nothing/);
  assert.throws(() => new BatchResponse().fail({}), /takes a record or its sequence number/);
});

test('a thrown error becomes the function error text', async () => {
  const ctx = {};
  await assert.rejects(
    runHandler(() => {
      throw new RangeError('too far');
    }, STREAM_EVENT, ctx),
    (thrown) => thrown === 'RangeError: too far',
  );
  await assert.rejects(
    runHandler(async () => Promise.reject('plain'), STREAM_EVENT, ctx),
    (thrown) => thrown === 'plain',
  );
  assert.equal(await runHandler(async (e) => new BatchResponse().fail(e.records[0]), STREAM_EVENT, ctx),
    '{"batchItemFailures":[{"itemIdentifier":"000000000000000000001"}]}');
});

// The table helpers' requests, checked against what DynamoDB's wire protocol expects; the
// e2e test runs the same helpers against a real server.
test('table helpers build DynamoDB requests from native values', () => {
  const sent = [];
  const db = makeDynamoDB((operation, body) => {
    sent.push([operation, JSON.parse(body)]);
    if (operation === 'GetItem') return '{}';
    if (operation === 'UpdateItem') return '{"Attributes":{"id":{"S":"a"},"n":{"N":"5"}}}';
    if (operation === 'Query') {
      return sent.filter(([op]) => op === 'Query').length === 1
        ? '{"Items":[{"id":{"S":"a"}}],"LastEvaluatedKey":{"id":{"S":"a"}}}'
        : '{"Items":[{"id":{"S":"b"}}]}';
    }
    return '{}';
  });
  db.put('t', { id: 'a', n: 1 });
  assert.equal(db.get('t', { id: 'zz' }), null);
  assert.deepEqual(db.update('t', { id: 'a' }, { n: 5, gone: undefined }), { id: 'a', n: 5 });
  assert.deepEqual(db.query('t', { id: 'a' }), [{ id: 'a' }, { id: 'b' }]);
  assert.deepEqual(sent[0], ['PutItem', { TableName: 't', Item: { id: { S: 'a' }, n: { N: '1' } } }]);
  assert.deepEqual(sent[2][1], {
    ReturnValues: 'ALL_NEW',
    TableName: 't',
    Key: { id: { S: 'a' } },
    UpdateExpression: 'SET #a0 = :v0 REMOVE #a1',
    ExpressionAttributeNames: { '#a0': 'n', '#a1': 'gone' },
    ExpressionAttributeValues: { ':v0': { N: '5' } },
  });
  assert.deepEqual(sent[4][1].ExclusiveStartKey, { id: { S: 'a' } });
});

test('a DynamoDB error from the host is a DynamoDBError with its code', () => {
  const db = makeDynamoDB(() => {
    const e = new Error('host');
    e.payload = { code: 'ResourceNotFoundException', message: 'Requested resource not found' };
    throw e;
  });
  assert.throws(() => db.put('t', { id: 'a' }), {
    name: 'ResourceNotFoundException',
    code: 'ResourceNotFoundException',
    message: 'Requested resource not found',
  });
});
