// The handler's context: friendly wrappers over the host's capabilities.
//
// This module owns how a handler calls the host (DynamoDB, logging, configuration,
// search, e-mail) and how one invocation runs (decode the event, await the handler,
// encode the response or the function error). It takes the raw WIT functions as
// arguments instead of importing them, so that it stays loadable by plain Node; only
// index.js knows the WIT import names.

import { marshall, unmarshall } from './codec.js';
import { decodeEvent, encodeResponse } from './event.js';

/** A failed DynamoDB call: `code` is the exception name (`ConditionalCheckFailedException`, ...). */
export class DynamoDBError extends Error {
  constructor(code, message) {
    super(message);
    this.name = code;
    this.code = code;
  }
}

/** A failed search or e-mail call: `kind` is the WIT variant (`denied`, `invalid`, ...). */
export class CapabilityError extends Error {
  constructor(capability, kind, message) {
    super(`${capability} ${kind}: ${message}`);
    this.name = `${capability[0].toUpperCase()}${capability.slice(1)}Error`;
    this.kind = kind;
  }
}

// Imported functions report `err(e)` by throwing an Error whose `payload` is `e`.
function payloadOf(thrown) {
  return thrown !== null && typeof thrown === 'object' ? thrown.payload : undefined;
}

function variantError(capability, thrown) {
  const p = payloadOf(thrown);
  if (p && typeof p.tag === 'string') {
    return new CapabilityError(capability, p.tag, String(p.val));
  }
  return thrown;
}

/**
 * The DynamoDB client over the host's `call`. `call(operation, request)` takes and returns
 * DynamoDB JSON (the wire protocol's bodies, as objects); the table helpers take and
 * return native values (see codec.js). Extra `options` are merged into the request as
 * DynamoDB JSON members (`{ConditionExpression: ..., ExpressionAttributeValues: ...}`).
 */
export function makeDynamoDB(hostCall) {
  function call(operation, request = {}) {
    const body = typeof request === 'string' ? request : JSON.stringify(request);
    let text;
    try {
      text = hostCall(operation, body);
    } catch (thrown) {
      const p = payloadOf(thrown);
      if (p && typeof p.code === 'string') {
        throw new DynamoDBError(p.code, p.message);
      }
      throw thrown;
    }
    return text === '' ? {} : JSON.parse(text);
  }

  return {
    call,

    /** Writes `item` (native values) to `table`, replacing any item with its key. */
    put(table, item, options = {}) {
      call('PutItem', { ...options, TableName: table, Item: marshall(item) });
    },

    /** The item with `key` (native values), or null when there is none. */
    get(table, key, options = {}) {
      const out = call('GetItem', { ...options, TableName: table, Key: marshall(key, 'key') });
      return out.Item ? unmarshall(out.Item) : null;
    },

    /** Deletes the item with `key` (no error when there is none); returns the old item or null. */
    delete(table, key, options = {}) {
      const out = call('DeleteItem', {
        ReturnValues: 'ALL_OLD',
        ...options,
        TableName: table,
        Key: marshall(key, 'key'),
      });
      return out.Attributes ? unmarshall(out.Attributes) : null;
    },

    /**
     * Sets the attributes of `changes` on the item with `key` (creating it if missing); an
     * attribute whose value is `undefined` is removed. Returns the item after the update.
     */
    update(table, key, changes, options = {}) {
      const names = {};
      const values = {};
      const set = [];
      const remove = [];
      Object.entries(changes).forEach(([name, value], i) => {
        names[`#a${i}`] = name;
        if (value === undefined) {
          remove.push(`#a${i}`);
        } else {
          values[`:v${i}`] = value;
          set.push(`#a${i} = :v${i}`);
        }
      });
      const clauses = [];
      if (set.length > 0) clauses.push(`SET ${set.join(', ')}`);
      if (remove.length > 0) clauses.push(`REMOVE ${remove.join(', ')}`);
      if (clauses.length === 0) {
        throw new TypeError('update needs at least one attribute to change');
      }
      const request = {
        ReturnValues: 'ALL_NEW',
        ...options,
        TableName: table,
        Key: marshall(key, 'key'),
        UpdateExpression: clauses.join(' '),
        ExpressionAttributeNames: { ...names, ...options.ExpressionAttributeNames },
      };
      if (set.length > 0 || options.ExpressionAttributeValues) {
        request.ExpressionAttributeValues = {
          ...marshall(values, 'changes'),
          ...options.ExpressionAttributeValues,
        };
      }
      const out = call('UpdateItem', request);
      return out.Attributes ? unmarshall(out.Attributes) : null;
    },

    /**
     * The items whose key attributes equal `key` (the partition key, optionally the sort
     * key too), native values, following pages until `limit` items or the end.
     * `options`: `index` (a secondary index's name), `limit`, `ascending` (default true),
     * `consistent`, and raw Query members (`FilterExpression`, ...).
     */
    query(table, key, options = {}) {
      const { index, limit, ascending, consistent, ...raw } = options;
      const names = {};
      const values = {};
      const conditions = Object.entries(key).map(([name, value], i) => {
        names[`#k${i}`] = name;
        values[`:k${i}`] = value;
        return `#k${i} = :k${i}`;
      });
      const request = {
        ...raw,
        TableName: table,
        KeyConditionExpression: conditions.join(' AND '),
        ExpressionAttributeNames: { ...names, ...raw.ExpressionAttributeNames },
        ExpressionAttributeValues: {
          ...marshall(values, 'key'),
          ...raw.ExpressionAttributeValues,
        },
      };
      if (index !== undefined) request.IndexName = index;
      if (ascending === false) request.ScanIndexForward = false;
      if (consistent) request.ConsistentRead = true;
      const items = [];
      for (;;) {
        if (limit !== undefined) request.Limit = limit - items.length;
        const out = call('Query', request);
        for (const item of out.Items ?? []) items.push(unmarshall(item));
        if (!out.LastEvaluatedKey || (limit !== undefined && items.length >= limit)) {
          return items;
        }
        request.ExclusiveStartKey = out.LastEvaluatedKey;
      }
    },
  };
}

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error'];

/** Structured logging: `log.info("message", {table: "users"})`; field values become strings. */
export function makeLog(hostLog) {
  const log = {};
  for (const level of LEVELS) {
    log[level] = (message, fields = {}) =>
      hostLog(
        level,
        String(message),
        Object.entries(fields).map(([name, value]) => ({
          name,
          value: typeof value === 'string' ? value : JSON.stringify(value) ?? String(value),
        })),
      );
  }
  return log;
}

/** The deployment's configuration (`--env K=V`): `config.get("K")` is a string or undefined. */
export function makeConfig(hostGet) {
  return {
    get: (key) => hostGet(key) ?? undefined,
    getOr: (key, fallback) => hostGet(key) ?? fallback,
  };
}

/** Full-text search indexes: documents are plain objects; hits carry the parsed document. */
export function makeSearch(host) {
  const guard = (f) => {
    try {
      return f();
    } catch (thrown) {
      throw variantError('search', thrown);
    }
  };
  return {
    upsert: (index, id, document) => guard(() => host.upsert(index, id, JSON.stringify(document))),
    delete: (index, id) => guard(() => host.delete(index, id)),
    query: (index, query, limit = 10) =>
      guard(() =>
        host.query(index, query, limit).map((hit) => ({
          id: hit.id,
          score: hit.score,
          document: JSON.parse(hit.documentJson),
        })),
      ),
  };
}

/**
 * E-mail: `email.send({from, to, subject, text, idempotencyKey})` returns the Message-ID;
 * `to` is one address or a list. A retried batch with the same `idempotencyKey` does not
 * send twice.
 */
export function makeEmail(hostSend) {
  return {
    send({ from, to, subject, text, idempotencyKey }) {
      try {
        return hostSend({
          from,
          to: Array.isArray(to) ? to : [to],
          subject,
          bodyText: text ?? '',
          idempotencyKey: idempotencyKey ?? undefined,
        });
      } catch (thrown) {
        throw variantError('email', thrown);
      }
    },
  };
}

// The function error's text: the error's name and message, as Lambda's errorType and
// errorMessage would show them. A thrown non-Error is shown as it is.
function describe(thrown) {
  if (thrown instanceof Error) {
    return `${thrown.name}: ${thrown.message}`;
  }
  try {
    return typeof thrown === 'string' ? thrown : JSON.stringify(thrown);
  } catch {
    return String(thrown);
  }
}

/**
 * Runs one invocation: returns the response JSON, or throws the function error's text (a
 * string, which the export turns into `err`). The stack of a thrown Error goes to stderr,
 * which the host keeps in the function's logs.
 */
export async function runHandler(handler, eventJson, ctx) {
  try {
    const event = decodeEvent(eventJson);
    return encodeResponse(await handler(event, ctx));
  } catch (thrown) {
    if (thrown instanceof Error && thrown.stack) {
      console.error(`${describe(thrown)}\n${thrown.stack}`);
    }
    throw describe(thrown);
  }
}
