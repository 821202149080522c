//! One token bucket: units per second refilled continuously up to a window's worth,
//! taken after the fact (so it may go negative: a debt the refill pays back first).
//!
//! It owns the arithmetic of one bucket; it must not know what the units are for.

/// A bucket of units, read against a clock in epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Bucket {
    /// Units added per second.
    rate: f64,
    /// The most units it holds: `rate` times the window in seconds.
    cap: f64,
    /// Units available now; negative while the bucket is in debt.
    tokens: f64,
    /// When `tokens` was last brought up to date.
    at_ms: u64,
}

impl Bucket {
    /// A bucket of `rate` units per second keeping up to `window_s` seconds of them,
    /// starting with one second's worth (DynamoDB's new table has no burst capacity
    /// yet, so a sustained test measures the rate).
    pub(crate) fn new(rate: f64, window_s: f64, now_ms: u64) -> Bucket {
        let cap = rate * window_s;
        Bucket {
            rate,
            cap,
            tokens: rate.min(cap),
            at_ms: now_ms,
        }
    }

    fn refill(&mut self, now_ms: u64) {
        if now_ms > self.at_ms {
            if self.tokens < self.cap {
                let gained = self.rate * (now_ms - self.at_ms) as f64 / 1000.0;
                self.tokens = (self.tokens + gained).min(self.cap);
            }
            self.at_ms = now_ms;
        }
    }

    /// Whether an operation may start: the bucket is positive once `pending` units
    /// (admitted earlier in the same batch, not charged yet) are set aside.
    pub(crate) fn admits(&mut self, now_ms: u64, pending: f64) -> bool {
        self.refill(now_ms);
        self.tokens - pending > 0.0
    }

    /// Takes what an admitted operation consumed, into debt if need be. Returns, when
    /// the bucket is left with nothing (it admits nothing now), the first millisecond
    /// at which the refill makes it positive again.
    pub(crate) fn take(&mut self, now_ms: u64, units: f64) -> Option<u64> {
        self.refill(now_ms);
        self.tokens -= units;
        (self.tokens <= 0.0).then(|| {
            // One millisecond more than the debt takes to repay, so the bucket holds
            // more than nothing then.
            self.at_ms + (-self.tokens * 1000.0 / self.rate).ceil() as u64 + 1
        })
    }

    /// The first millisecond at which the bucket holds all it can again, if nothing
    /// more is taken.
    pub(crate) fn full_at_ms(&mut self, now_ms: u64) -> u64 {
        self.refill(now_ms);
        let missing = self.cap - self.tokens;
        if missing <= 0.0 {
            return self.at_ms;
        }
        self.at_ms + (missing * 1000.0 / self.rate).ceil() as u64
    }

    /// Whether the bucket holds all it can (an idle one).
    pub(crate) fn is_full(&mut self, now_ms: u64) -> bool {
        self.refill(now_ms);
        self.tokens >= self.cap
    }

    /// A new rate and window (UpdateTable): what is unused stays, up to the new cap;
    /// a debt stays a debt.
    pub(crate) fn retune(&mut self, now_ms: u64, rate: f64, window_s: f64) {
        self.refill(now_ms);
        self.rate = rate;
        self.cap = rate * window_s;
        self.tokens = self.tokens.min(self.cap);
    }

    #[cfg(test)]
    pub(crate) fn tokens(&mut self, now_ms: u64) -> f64 {
        self.refill(now_ms);
        self.tokens
    }
}
