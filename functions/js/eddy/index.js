// eddy: write Eddy functions in JavaScript like AWS Lambda handlers.
//
//     import { BatchResponse } from 'eddy';
//
//     export async function handler(event, ctx) {
//       const response = new BatchResponse();
//       for (const record of event.records) {
//         ctx.log.info(`${record.eventName} ${JSON.stringify(record.keys)}`);
//         if (record.newImage) ctx.dynamodb.put('audit', record.newImage);
//         else response.fail(record); // retried from this record on
//       }
//       return response;
//     }
//
// This is the only module that names the WIT imports of functions/wit/function.wit (world
// `function`); the build (functions/js/build.mjs) bundles it with the handler and
// componentize-js turns the bundle into the component. Everything else lives in pure
// modules that plain Node can load: codec.js (DynamoDB JSON <-> native values),
// event.js (events and responses), context.js (the capability wrappers).

import { log as hostLog } from 'eddy:function/logging@0.1.0';
import { call as hostCall } from 'eddy:function/dynamodb@0.1.0';
import { get as hostGet } from 'eddy:function/config@0.1.0';
import * as hostSearch from 'eddy:function/search@0.1.0';
import { send as hostSend } from 'eddy:function/email@0.1.0';

import {
  makeConfig,
  makeDynamoDB,
  makeEmail,
  makeLog,
  makeSearch,
  runHandler,
} from './context.js';

export { Decimal, marshall, unmarshall, toAttributeValue, fromAttributeValue } from './codec.js';
export { BatchResponse, StreamRecord, decodeEvent } from './event.js';
export { DynamoDBError, CapabilityError } from './context.js';

/** Structured logging into the function's logs (`eddy function logs NAME`). */
export const log = makeLog(hostLog);
/** This Eddy's DynamoDB API, limited to the tables granted to the deployment. */
export const dynamodb = makeDynamoDB(hostCall);
/** The deployment's environment (`--env K=V`, the manifest's `environment`). */
export const config = makeConfig(hostGet);
/** Full-text search indexes granted to the deployment. */
export const search = makeSearch(hostSearch);
/** E-mail through the server's SMTP server, when the deployment is granted it. */
export const email = makeEmail(hostSend);
/** Outbound HTTP (wasi:http) to the hosts granted to the deployment. */
export const fetch = (...args) => globalThis.fetch(...args);

/** What a handler receives as its second argument. */
export const context = Object.freeze({ log, dynamodb, config, search, email, fetch });

/**
 * Builds the component's `handle` export around `handler` (what the generated entry
 * module does; a handler module does not call it itself).
 */
export function exportHandler(handler, moduleFile, functionName) {
  if (typeof handler !== 'function') {
    // Thrown while componentize-js evaluates the module, so the build fails with it.
    throw new TypeError(`${moduleFile} does not export a function named ${functionName}`);
  }
  return (eventJson) => runHandler(handler, eventJson, context);
}
