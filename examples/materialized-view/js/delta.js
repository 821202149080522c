import { Decimal } from 'eddy';

// What one change to an order does to the view: an order counts once, with its amount, in
// its customer's `ALL` item and in the item of its status, so a change moves it out of the
// old image's items and into the new image's. Amounts are added as exact decimals (scaled
// BigInts), never as floating point, so 0.1 + 0.2 stays 0.3.

/** The most digits after the decimal point an amount may have. */
const FRACTION_DIGITS_MAX = 18;

// An amount (number, BigInt or the SDK's Decimal: String() of each is its exact decimal
// text) as an integer count of 10^-FRACTION_DIGITS_MAX.
function scaled(amount) {
  const m = /^(-?)(\d+)(?:\.(\d+))?$/.exec(String(amount));
  if (m === null || (m[3] ?? '').length > FRACTION_DIGITS_MAX) {
    throw new Error(`amount ${amount} is not a decimal with at most ${FRACTION_DIGITS_MAX} digits after the point`);
  }
  const digits = BigInt(m[2] + (m[3] ?? '').padEnd(FRACTION_DIGITS_MAX, '0'));
  return m[1] === '-' ? -digits : digits;
}

// The decimal text of a scaled amount, without trailing zeros ("37.25", "-5", "0").
function text(value) {
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(FRACTION_DIGITS_MAX + 1, '0');
  const whole = digits.slice(0, -FRACTION_DIGITS_MAX);
  const fraction = digits.slice(-FRACTION_DIGITS_MAX).replace(/0+$/, '');
  return `${negative ? '-' : ''}${whole}${fraction ? `.${fraction}` : ''}`;
}

// The scopes (the view's sort key values) an order image contributes to.
function scopes(image) {
  return typeof image.status === 'string' ? ['ALL', `status#${image.status}`] : ['ALL'];
}

/**
 * The non-zero deltas of the change `oldImage` -> `newImage` of one order (null for "did
 * not exist"), as a Map from scope to `{count, amount}` (amount: decimal text).
 */
export function deltas(oldImage, newImage) {
  const sums = new Map();
  const add = (image, sign) => {
    // An order without a numeric amount still counts as an order; its amount is zero.
    const a = image.amount;
    const numeric = typeof a === 'number' || typeof a === 'bigint' || a instanceof Decimal;
    const amount = numeric ? scaled(a) : 0n;
    for (const scope of scopes(image)) {
      const d = sums.get(scope) ?? { count: 0n, amount: 0n };
      d.count += sign;
      d.amount += sign * amount;
      sums.set(scope, d);
    }
  };
  if (oldImage) add(oldImage, -1n);
  if (newImage) add(newImage, 1n);
  const out = new Map();
  for (const [scope, d] of sums) {
    if (d.count !== 0n || d.amount !== 0n) {
      out.set(scope, { count: d.count, amount: text(d.amount) });
    }
  }
  return out;
}
