//! Per-connection statistics: requests, errors, response times (mean and p99 from a log-bucket
//! histogram, ~5% resolution, fixed memory), scans.

use std::time::Duration;

const BUCKETS: usize = 520;
const GROWTH: f64 = 1.05;

/// Time histogram: bucket i holds times in [1.05^i, 1.05^(i+1)) nanoseconds (up to ~100 s).
#[derive(Clone, Debug, PartialEq)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum_ns: u128,
    max_ns: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram { counts: vec![0; BUCKETS], total: 0, sum_ns: 0, max_ns: 0 }
    }
}

impl Histogram {
    pub fn record(&mut self, d: Duration) {
        let ns = d.as_nanos().min(u64::MAX as u128) as u64;
        let i = if ns <= 1 { 0 } else { ((ns as f64).ln() / GROWTH.ln()) as usize };
        self.counts[i.min(BUCKETS - 1)] += 1;
        self.total += 1;
        self.sum_ns += ns as u128;
        self.max_ns = self.max_ns.max(ns);
    }

    pub fn count(&self) -> u64 {
        self.total
    }

    pub fn mean(&self) -> Option<Duration> {
        (self.total > 0).then(|| Duration::from_nanos((self.sum_ns / self.total as u128) as u64))
    }

    /// The time below which `q` (0..=1) of the responses came, to within ~5%.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                let upper = GROWTH.powi(i as i32 + 1).min(self.max_ns.max(1) as f64);
                return Some(Duration::from_nanos(upper.round() as u64));
            }
        }
        Some(Duration::from_nanos(self.max_ns))
    }
}

/// What a connection has done since it started.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ConnStats {
    pub requests: u64,
    /// Requests that failed: timeouts, transport errors, exceptions, undecodable responses.
    pub errors: u64,
    pub timeouts: u64,
    pub exceptions: u64,
    /// Damaged RTU answers: CRC errors, truncated frames, another unit answering, noise.
    pub bad_frames: u64,
    pub reconnects: u64,
    /// Successful reads that returned exactly the words of the previous read.
    pub unchanged: u64,
    pub response: Histogram,
    /// The driver's own time per successful read: comparing, decoding, building the samples and
    /// handing them on.
    pub processing: Histogram,
    /// The same, for the reads whose words changed (decoded in full).
    pub processing_changed: Histogram,
    /// Complete passes over all the connection's blocks.
    pub scans: u64,
    /// Duration of the last complete pass.
    pub last_scan: Option<Duration>,
    /// Time the statistics cover, for rates.
    pub elapsed: Duration,
}

impl ConnStats {
    pub fn scans_per_second(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.scans as f64 / self.elapsed.as_secs_f64() }
    }

    pub fn requests_per_second(&self) -> f64 {
        if self.elapsed.is_zero() { 0.0 } else { self.requests as f64 / self.elapsed.as_secs_f64() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_within_five_percent() {
        let mut h = Histogram::default();
        for us in 1..=1000u64 {
            h.record(Duration::from_micros(us));
        }
        assert_eq!(h.count(), 1000);
        assert_eq!(h.mean(), Some(Duration::from_nanos(500_500)), "exact mean of 1..=1000 µs");
        let p99 = h.quantile(0.99).unwrap().as_nanos() as f64 / 1000.0;
        assert!((p99 - 990.0).abs() / 990.0 < 0.06, "p99 {p99}");
        let p50 = h.quantile(0.5).unwrap().as_nanos() as f64 / 1000.0;
        assert!((p50 - 500.0).abs() / 500.0 < 0.06, "p50 {p50}");
        assert_eq!(h.quantile(1.0), Some(Duration::from_micros(1000)));
    }

    #[test]
    fn empty_and_extreme() {
        let mut h = Histogram::default();
        assert_eq!(h.mean(), None);
        assert_eq!(h.quantile(0.99), None);
        h.record(Duration::ZERO);
        h.record(Duration::from_secs(1_000_000));
        assert_eq!(h.count(), 2);
        assert!(h.quantile(0.99).is_some());
    }

    #[test]
    fn rates() {
        let s = ConnStats { scans: 10, requests: 50, elapsed: Duration::from_secs(5), ..Default::default() };
        assert_eq!(s.scans_per_second(), 2.0);
        assert_eq!(s.requests_per_second(), 10.0);
        assert_eq!(ConnStats::default().scans_per_second(), 0.0);
    }
}
