// order-totals in JavaScript: the materialized view of examples/materialized-view, the
// same design as the Rust function functions/pipelines/order-totals (read its doc comment
// for the reasoning), written against Eddy's JavaScript SDK.
//
// For each record of the orders stream (NEW_AND_OLD_IMAGES), in ONE TransactWriteItems:
// - an `ADD order_count :dc, amount_sum :da` per view item the change touches (the
//   delta from the old image to the new one, see delta.js), and
// - a Put of the order's ledger item {customer_id, order_id, last_seq} on the condition
//   `attribute_not_exists(last_seq) OR last_seq < :seq`.
// A redelivered record fails the condition, which cancels the whole transaction, and is
// skipped: every record counts exactly once however often the trigger delivers it.
//
// Configuration (eddy.toml's `environment`): VIEW_TABLE and LEDGER_TABLE.
import { deltas } from './delta.js';

const REQUIRED_VIEW_TYPE = 'NEW_AND_OLD_IMAGES';

function required(ctx, key) {
  const value = ctx.config.get(key);
  if (value === undefined) {
    throw new Error(`config value ${key} is not set`);
  }
  return value;
}

export function handler(event, ctx) {
  const view = required(ctx, 'VIEW_TABLE');
  const ledger = required(ctx, 'LEDGER_TABLE');
  let applied = 0;
  let skipped = 0;
  for (const record of event.records) {
    if (apply(ctx.dynamodb, view, ledger, record)) {
      applied += 1;
    } else {
      skipped += 1;
    }
  }
  ctx.log.info('batch applied', { applied, already_applied: skipped });
}

// Applies one record; returns false when the ledger shows it was applied before.
function apply(db, view, ledger, record) {
  if (record.streamViewType !== REQUIRED_VIEW_TYPE) {
    throw new Error(`the orders stream must be ${REQUIRED_VIEW_TYPE}, not ${record.streamViewType}`);
  }
  // The raw record's keys stay in DynamoDB JSON, ready for the transaction below.
  const { customer_id: customer, order_id: order } = record.raw.dynamodb.Keys;
  const seq = record.sequenceNumber;
  const items = [...deltas(record.oldImage, record.newImage)].map(([scope, d]) => ({
    Update: {
      TableName: view,
      Key: { customer_id: customer, scope: { S: scope } },
      UpdateExpression: 'ADD order_count :dc, amount_sum :da',
      ExpressionAttributeValues: { ':dc': { N: String(d.count) }, ':da': { N: d.amount } },
    },
  }));
  // The ledger entry goes in even without a delta, so the ledger always says how far
  // each order has been applied.
  items.push({
    Put: {
      TableName: ledger,
      Item: { customer_id: customer, order_id: order, last_seq: { S: seq } },
      ConditionExpression: 'attribute_not_exists(#seq) OR #seq < :seq',
      ExpressionAttributeNames: { '#seq': 'last_seq' },
      ExpressionAttributeValues: { ':seq': { S: seq } },
    },
  });
  try {
    db.call('TransactWriteItems', { TransactItems: items });
    return true;
  } catch (error) {
    if (error.code !== 'TransactionCanceledException') {
      throw new Error(`record ${record.eventId} not applied: ${error.message}`);
    }
    // Cancelled: the ledger condition failed (applied before) or something else did. The
    // ledger, read consistently, tells which; only this record's order writes that item.
    const last = db.get(
      ledger,
      { customer_id: record.keys.customer_id, order_id: record.keys.order_id },
      { ConsistentRead: true },
    )?.last_seq;
    // Sequence numbers are fixed-width decimal strings: string order is stream order.
    if (last !== undefined && last >= seq) {
      return false;
    }
    throw new Error(`record ${record.eventId} not applied: ${error.message}`);
  }
}
