// Lambda events in, Lambda batch responses out.
//
// This module owns the shape a handler sees: the event JSON exactly as Lambda delivers it
// (`event.Records`, `event["detail-type"]`, ...) plus decoded, camelCase conveniences
// (`event.records[i].newImage` as native values, `event.isScheduled`), and the response
// a handler may return (`BatchResponse`). It is pure (no WIT imports), so plain Node tests
// it; it knows nothing of how the host delivers events.

import { unmarshall } from './codec.js';

/** One stream record, decoded; `raw` is Lambda's record as delivered. */
export class StreamRecord {
  constructor(raw) {
    const data = raw.dynamodb ?? {};
    /** Lambda's record, untouched (DynamoDB JSON images). */
    this.raw = raw;
    this.eventId = raw.eventID;
    /** "INSERT" | "MODIFY" | "REMOVE" */
    this.eventName = raw.eventName;
    this.eventSourceArn = raw.eventSourceARN;
    this.awsRegion = raw.awsRegion;
    /** The item's key attributes, native values. */
    this.keys = unmarshall(data.Keys ?? null, 'Keys');
    /** The item after the change (INSERT, MODIFY), native values; null when the stream does not carry it. */
    this.newImage = data.NewImage ? unmarshall(data.NewImage, 'NewImage') : null;
    /** The item before the change (MODIFY, REMOVE), native values; null when the stream does not carry it. */
    this.oldImage = data.OldImage ? unmarshall(data.OldImage, 'OldImage') : null;
    /** The record's position; what `BatchResponse.fail` reports. */
    this.sequenceNumber = data.SequenceNumber;
    this.sizeBytes = data.SizeBytes;
    this.streamViewType = data.StreamViewType;
    /** Seconds since the epoch (DynamoDB's ApproximateCreationDateTime). */
    this.approximateCreationDateTime = data.ApproximateCreationDateTime;
    /** Set for deletions by Time to Live (`{type: "Service", principalId: "dynamodb.amazonaws.com"}`). */
    this.userIdentity = raw.userIdentity ?? null;
  }
}

/**
 * Parses the event JSON into the object a handler receives: Lambda's event itself, with
 * non-enumerable additions (so that `JSON.stringify(event)` still prints Lambda's event):
 * `records` (StreamRecord[], empty for a scheduled event), `isScheduled` and `isStream`.
 */
export function decodeEvent(eventJson) {
  const event = eventJson === '' ? {} : JSON.parse(eventJson);
  const raw = Array.isArray(event.Records) ? event.Records : [];
  const scheduled = event['detail-type'] === 'Scheduled Event' && event.source === 'aws.events';
  Object.defineProperties(event, {
    records: { value: raw.map((r) => new StreamRecord(r)), enumerable: false },
    isScheduled: { value: scheduled, enumerable: false },
    isStream: { value: Array.isArray(event.Records), enumerable: false },
  });
  return event;
}

/**
 * Lambda's partial batch response. Return it from a handler whose trigger reports batch
 * item failures: Eddy retries the batch from the first failed record on.
 *
 *     const response = new BatchResponse();
 *     for (const record of event.records) {
 *       try { ... } catch (e) { response.fail(record); }
 *     }
 *     return response;
 */
export class BatchResponse {
  constructor() {
    this.batchItemFailures = [];
  }

  /** Marks a record (a StreamRecord, Lambda's raw record, or a sequence number) failed. */
  fail(record) {
    let id = record;
    if (record instanceof StreamRecord) {
      id = record.sequenceNumber;
    } else if (record !== null && typeof record === 'object') {
      id = record.dynamodb?.SequenceNumber;
    }
    if (typeof id !== 'string' || id === '') {
      throw new TypeError('BatchResponse.fail takes a record or its sequence number');
    }
    this.batchItemFailures.push({ itemIdentifier: id });
    return this;
  }

  /** Sets the tumbling window's state handed to the next invocation of the window. */
  withState(state) {
    this.state = state;
    return this;
  }
}

/**
 * Encodes what a handler returned as the response JSON: nothing (`undefined` / `null`)
 * means the whole batch succeeded; an object (a BatchResponse, or Lambda's own
 * `{batchItemFailures: [...], state}`) is sent as JSON.
 */
export function encodeResponse(result) {
  if (result === undefined || result === null) {
    return '{}';
  }
  if (typeof result !== 'object' || Array.isArray(result)) {
    throw new TypeError(
      `a handler returns nothing, a BatchResponse or {batchItemFailures: [...]}, not ${JSON.stringify(result)}`,
    );
  }
  return JSON.stringify(result, (_key, value) =>
    typeof value === 'bigint' ? value.toString() : value,
  );
}
