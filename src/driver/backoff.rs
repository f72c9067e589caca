//! Reconnect delays: exponential with jitter, capped.

use std::time::Duration;

#[derive(Clone, Debug)]
pub struct Backoff {
    base: Duration,
    cap: Duration,
    attempt: u32,
    rng: u64,
}

impl Backoff {
    /// `seed` varies the jitter between connections so they do not reconnect in lockstep.
    pub fn new(base: Duration, cap: Duration, seed: u64) -> Self {
        Backoff { base, cap, attempt: 0, rng: seed | 1 }
    }

    /// The delay before the next attempt: base·2^n, capped, times a random factor in [0.5, 1).
    pub fn next_delay(&mut self) -> Duration {
        let exp = self.base.saturating_mul(1u32 << self.attempt.min(20));
        self.attempt = self.attempt.saturating_add(1);
        let full = exp.min(self.cap);
        // xorshift64
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        let jitter = 0.5 + (self.rng >> 11) as f64 / (1u64 << 53) as f64 / 2.0;
        full.mul_f64(jitter)
    }

    /// After a success: start again from `base`.
    pub fn reset(&mut self) {
        self.attempt = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_caps_jitters_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_secs(30), 42);
        let d: Vec<Duration> = (0..15).map(|_| b.next_delay()).collect();
        for (i, x) in d.iter().enumerate() {
            let full = Duration::from_millis(100).saturating_mul(1 << i).min(Duration::from_secs(30));
            assert!(*x >= full / 2 && *x < full, "attempt {i}: {x:?} vs {full:?}");
        }
        assert!(d[14] >= Duration::from_secs(15));
        b.reset();
        assert!(b.next_delay() < Duration::from_millis(100));
        let mut other = Backoff::new(Duration::from_millis(100), Duration::from_secs(30), 7);
        let o: Vec<Duration> = (0..5).map(|_| other.next_delay()).collect();
        assert_ne!(o, d[..5].to_vec(), "different seeds jitter differently");
    }
}
