// DynamoDB JSON <-> native JavaScript values.
//
// This module owns the one mapping between DynamoDB's typed attribute values
// (`{"S": "x"}`, `{"N": "1"}`, ...) and plain JavaScript values. It is pure: it knows
// nothing of the WIT imports or of events, so that plain Node can test it
// (functions/js/test/codec.test.mjs).
//
// Decoding (DynamoDB JSON -> JavaScript):
//   S -> string, BOOL -> boolean, NULL -> null, B -> Uint8Array, L -> Array,
//   M -> plain object, SS -> Set<string>, BS -> Set<Uint8Array>,
//   N -> number when the number is exactly representable as a JS number (every integer
//        up to 2^53 - 1 in magnitude, and decimals such as 1.5 or 0.25 whose shortest
//        JS form has the same value); otherwise BigInt for an integer and `Decimal` (the
//        exact digits, see below) for any other number, so that no digit is ever lost
//        silently. NS -> Set of those.
// Encoding (JavaScript -> DynamoDB JSON) is the inverse: number (finite only), BigInt and
// Decimal -> N; Set -> SS / NS / BS by its members (one kind only, never empty, as
// DynamoDB requires); Array -> L; Uint8Array / ArrayBuffer / other typed arrays -> B;
// plain object or Map -> M. An `undefined` member of an object is left out (as
// JSON.stringify does); anything else without a DynamoDB form (a function, a Symbol,
// NaN, a Date, ...) is a TypeError naming where it was found.

/** An exact DynamoDB number that a JS number would round: its digits, kept as text. */
export class Decimal {
  /** @param {string} value the number as DynamoDB writes it, e.g. "0.1000000000000000000001" */
  constructor(value) {
    const text = String(value).trim();
    if (parseDecimal(text) === null) {
      throw new TypeError(`not a number: ${JSON.stringify(value)}`);
    }
    this.value = text;
  }

  /** The exact digits. */
  toString() {
    return this.value;
  }

  /** The nearest JS number (arithmetic with `+d` or `Number(d)` rounds). */
  valueOf() {
    return Number(this.value);
  }

  /** JSON keeps the exact digits as a string. */
  toJSON() {
    return this.value;
  }
}

// Splits a decimal number's text into sign, significant digits and exponent so that two
// spellings of the same value compare equal ("1.50" and "15e-1" both give 15 x 10^-1).
// Returns null for text that is not a decimal number.
function parseDecimal(text) {
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (m === null || (m[2] === '' && (m[3] === undefined || m[3] === ''))) {
    return null;
  }
  const whole = m[2];
  const fraction = m[3] ?? '';
  let digits = (whole + fraction).replace(/^0+/, '');
  let exponent = Number(m[4] ?? '0') - fraction.length;
  if (digits === '') {
    return { negative: false, digits: '0', exponent: 0 };
  }
  const trailing = digits.length - digits.replace(/0+$/, '').length;
  digits = digits.slice(0, digits.length - trailing);
  exponent += trailing;
  return { negative: m[1] === '-', digits, exponent };
}

function sameDecimal(a, b) {
  return (
    a !== null &&
    b !== null &&
    a.negative === b.negative &&
    a.digits === b.digits &&
    a.exponent === b.exponent
  );
}

/** Decodes one DynamoDB number's text into number, BigInt or Decimal (see the top). */
export function decodeNumber(text) {
  const parsed = parseDecimal(text);
  if (parsed === null) {
    throw new TypeError(`not a DynamoDB number: ${JSON.stringify(text)}`);
  }
  const n = Number(text);
  if (Number.isFinite(n) && sameDecimal(parsed, parseDecimal(String(n)))) {
    // The JS number has exactly the stored value. An integer past 2^53 - 1 can still be
    // exact (2^60 is), but arithmetic on it would round, so it becomes a BigInt below.
    if (!Number.isInteger(n) || Number.isSafeInteger(n)) {
      return n === 0 ? 0 : n;
    }
  }
  if (parsed.exponent >= 0) {
    return BigInt(parsed.digits + '0'.repeat(parsed.exponent)) * (parsed.negative ? -1n : 1n);
  }
  return new Decimal(text);
}

function encodeNumber(value, path) {
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) {
      throw new TypeError(`${path}: ${value} has no DynamoDB form (numbers must be finite)`);
    }
    return String(value);
  }
  return value.toString();
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/** Base64 of bytes (DynamoDB JSON's form of B). Written out so it needs no Buffer. */
export function toBase64(bytes) {
  let out = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8) | bytes[i + 2];
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + BASE64[(n >> 6) & 63] + BASE64[n & 63];
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i] << 16;
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + '==';
  } else if (rest === 2) {
    const n = (bytes[i] << 16) | (bytes[i + 1] << 8);
    out += BASE64[n >> 18] + BASE64[(n >> 12) & 63] + BASE64[(n >> 6) & 63] + '=';
  }
  return out;
}

/** Bytes of base64 text (padding optional). A character outside base64 is a TypeError. */
export function fromBase64(text) {
  const clean = String(text).replace(/=+$/, '');
  const out = new Uint8Array(Math.floor((clean.length * 3) / 4));
  let bits = 0;
  let value = 0;
  let o = 0;
  for (const ch of clean) {
    const d = BASE64.indexOf(ch);
    if (d < 0) {
      throw new TypeError(`not base64: ${JSON.stringify(text)}`);
    }
    value = (value << 6) | d;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (value >> bits) & 255;
    }
  }
  return out.subarray(0, o);
}

/** Decodes one DynamoDB JSON attribute value (`{"S": "x"}`) into a JS value. */
export function fromAttributeValue(av, path = 'value') {
  if (av === null || typeof av !== 'object' || Array.isArray(av)) {
    throw new TypeError(`${path}: not a DynamoDB attribute value: ${JSON.stringify(av)}`);
  }
  const types = Object.keys(av);
  if (types.length !== 1) {
    throw new TypeError(`${path}: an attribute value has exactly one type, got ${JSON.stringify(av)}`);
  }
  const type = types[0];
  const v = av[type];
  switch (type) {
    case 'S':
      return v;
    case 'N':
      return decodeNumber(v);
    case 'B':
      return fromBase64(v);
    case 'BOOL':
      return v;
    case 'NULL':
      return null;
    case 'SS':
      return new Set(v);
    case 'NS':
      return new Set(v.map((n) => decodeNumber(n)));
    case 'BS':
      return new Set(v.map((b) => fromBase64(b)));
    case 'L':
      return v.map((item, i) => fromAttributeValue(item, `${path}[${i}]`));
    case 'M':
      return unmarshall(v, path);
    default:
      throw new TypeError(`${path}: unknown DynamoDB type ${JSON.stringify(type)}`);
  }
}

/** Decodes an item or key (`{"id": {"S": "a"}}`) into a plain object (`{id: "a"}`). */
export function unmarshall(item, path = 'item') {
  if (item === null || item === undefined) {
    return item;
  }
  const out = {};
  for (const [name, av] of Object.entries(item)) {
    out[name] = fromAttributeValue(av, `${path}.${name}`);
  }
  return out;
}

function isBytes(value) {
  return value instanceof Uint8Array || value instanceof ArrayBuffer || ArrayBuffer.isView(value);
}

function bytesOf(value) {
  if (value instanceof Uint8Array) {
    return value;
  }
  if (value instanceof ArrayBuffer) {
    return new Uint8Array(value);
  }
  return new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function isNumeric(value) {
  return typeof value === 'number' || typeof value === 'bigint' || value instanceof Decimal;
}

function encodeSet(set, path) {
  const members = [...set];
  if (members.length === 0) {
    throw new TypeError(`${path}: an empty Set has no DynamoDB form (DynamoDB sets are never empty)`);
  }
  if (members.every((m) => typeof m === 'string')) {
    return { SS: members };
  }
  if (members.every(isNumeric)) {
    return { NS: members.map((m, i) => encodeNumber(m, `${path}[${i}]`)) };
  }
  if (members.every(isBytes)) {
    return { BS: members.map((m) => toBase64(bytesOf(m))) };
  }
  throw new TypeError(
    `${path}: a Set must hold only strings, only numbers or only bytes to be a DynamoDB set`,
  );
}

/** Encodes one JS value into DynamoDB JSON (`"x"` -> `{"S": "x"}`). */
export function toAttributeValue(value, path = 'value') {
  if (value === null || value === undefined) {
    return { NULL: true };
  }
  switch (typeof value) {
    case 'string':
      return { S: value };
    case 'boolean':
      return { BOOL: value };
    case 'number':
    case 'bigint':
      return { N: encodeNumber(value, path) };
    case 'object':
      break;
    default:
      throw new TypeError(`${path}: a ${typeof value} has no DynamoDB form`);
  }
  if (value instanceof Decimal) {
    return { N: value.toString() };
  }
  if (isBytes(value)) {
    return { B: toBase64(bytesOf(value)) };
  }
  if (value instanceof Set) {
    return encodeSet(value, path);
  }
  if (Array.isArray(value)) {
    return { L: value.map((item, i) => toAttributeValue(item, `${path}[${i}]`)) };
  }
  if (value instanceof Map) {
    return { M: marshall(Object.fromEntries(value), path) };
  }
  const proto = Object.getPrototypeOf(value);
  if (proto === Object.prototype || proto === null) {
    return { M: marshall(value, path) };
  }
  const kind = value.constructor?.name ?? 'object';
  throw new TypeError(`${path}: a ${kind} has no DynamoDB form (convert it first, e.g. to a string)`);
}

/** Encodes a plain object (`{id: "a"}`) into a DynamoDB item (`{"id": {"S": "a"}}`). */
export function marshall(object, path = 'item') {
  if (object === null || typeof object !== 'object' || Array.isArray(object)) {
    throw new TypeError(`${path}: an item must be an object of attributes`);
  }
  const entries = object instanceof Map ? [...object.entries()] : Object.entries(object);
  const out = {};
  for (const [name, value] of entries) {
    if (value !== undefined) {
      out[name] = toAttributeValue(value, `${path}.${name}`);
    }
  }
  return out;
}
