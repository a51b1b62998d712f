//! Keyed token buckets: how many attempts a caller may make, and when they may try again.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// `capacity` attempts at once, refilled at one per `refill_every`.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub capacity: u32,
    pub refill_every: Duration,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Buckets per key. Idle buckets are dropped once full, so the map stays small.
#[derive(Debug)]
pub struct RateLimiter<K> {
    limit: RateLimit,
    buckets: HashMap<K, Bucket>,
    max_keys: usize,
}

impl<K: Eq + Hash + Clone> RateLimiter<K> {
    pub fn new(limit: RateLimit) -> Self {
        Self {
            limit,
            buckets: HashMap::new(),
            max_keys: 100_000,
        }
    }

    /// Takes one token for `key`, or says how long until one is available.
    pub fn check(&mut self, key: &K, now: Instant) -> Result<(), Duration> {
        if self.buckets.len() >= self.max_keys {
            self.forget_full_buckets(now);
        }
        let limit = self.limit;
        let bucket = self.buckets.entry(key.clone()).or_insert(Bucket {
            tokens: f64::from(limit.capacity),
            updated: now,
        });
        refill(bucket, limit, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            let missing = 1.0 - bucket.tokens;
            Err(limit
                .refill_every
                .mul_f64(missing)
                .max(Duration::from_secs(1)))
        }
    }

    fn forget_full_buckets(&mut self, now: Instant) {
        let limit = self.limit;
        self.buckets.retain(|_, bucket| {
            refill(bucket, limit, now);
            bucket.tokens < f64::from(limit.capacity)
        });
    }
}

fn refill(bucket: &mut Bucket, limit: RateLimit, now: Instant) {
    let elapsed = now.saturating_duration_since(bucket.updated);
    let earned = elapsed.as_secs_f64() / limit.refill_every.as_secs_f64();
    bucket.tokens = (bucket.tokens + earned).min(f64::from(limit.capacity));
    bucket.updated = now;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allows_capacity_then_refuses_until_refilled() {
        let mut limiter = RateLimiter::new(RateLimit {
            capacity: 2,
            refill_every: Duration::from_secs(10),
        });
        let start = Instant::now();
        assert!(limiter.check(&"ip", start).is_ok());
        assert!(limiter.check(&"ip", start).is_ok());
        let wait = limiter
            .check(&"ip", start)
            .expect_err("third attempt is refused");
        assert_eq!(wait, Duration::from_secs(10));
        assert!(
            limiter.check(&"other", start).is_ok(),
            "keys are independent"
        );
        assert!(
            limiter
                .check(&"ip", start + Duration::from_secs(10))
                .is_ok()
        );
    }
}
