// The function {{name}}: Eddy calls `handler` once per batch of changes of the tables it
// is attached to (a trigger), or once per tick of a schedule.
//
// `event` is AWS Lambda's DynamoDB Streams event (`event.Records`, DynamoDB JSON) with
// decoded conveniences: `event.records[i]` has `eventName` ("INSERT" | "MODIFY" |
// "REMOVE"), `keys`, `newImage`, `oldImage` (plain JavaScript values), `sequenceNumber`
// and `eventId`; `event.isScheduled` is true for a schedule's tick.
//
// `ctx` reaches what the deployment grants (eddy.toml): `ctx.dynamodb` (tables),
// `ctx.log`, `ctx.config` (environment), `ctx.search`, `ctx.email` and `ctx.fetch`
// (hosts). `console.log` lands in the function's logs too (`eddy function logs {{name}}`).
import { BatchResponse } from 'eddy';

export async function handler(event, ctx) {
  const response = new BatchResponse();
  for (const record of event.records) {
    ctx.log.info(`${record.eventName} ${JSON.stringify(record.keys)}`, {
      sequence: record.sequenceNumber,
    });

    // Write a derived item (grant the table in eddy.toml's `tables` first):
    // if (record.newImage) {
    //   ctx.dynamodb.put('audit', { id: record.eventId, change: record.eventName, ...record.keys });
    // }
    // Read one:   const user = ctx.dynamodb.get('users', { id: 'u1' });   // null when missing
    // Any call:   ctx.dynamodb.call('Scan', { TableName: 'users', Limit: 10 });  // DynamoDB JSON

    // Report one record failed: Eddy retries the batch from it on (the trigger needs
    // `report_batch_item_failures = true`). Throwing fails (and retries) the whole batch.
    // if (!record.newImage) response.fail(record);
  }
  return response;
}
