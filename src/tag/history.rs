//! Bounded in-memory history of the tags a trend, bar or sparkline shows, and its decimation to
//! screen columns.
//!
//! Each stored sample is a [`Point`] of 16 bytes: time (milliseconds since the series' base, `u32`),
//! quality (one byte) and value (`f64`; NaN when there is none). A series keeps the points of its
//! retention time, at most [`Series::capacity`] of them: memory is bounded by design at
//! `16 bytes × capacity` per tag, whatever the device sends.
//!
//! Values hold until the next point (a Modbus driver reports changes only). Times are the
//! console's receive times, so every pen shares one clock; a clock that jumps backwards never
//! reorders a series (the point is stored at the latest time seen).

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use super::{Quality, Sample, TagId};

/// Most points a series keeps per second of retention (10 per second: a 2 h history holds at most
/// 72,000 points, 1.1 MiB, per tag). A faster tag keeps a shorter span.
pub const MAX_RATE: u64 = 10;
/// Fewest points a series may hold, however short its retention.
const MIN_CAPACITY: usize = 1024;
/// Re-base a series when its time offsets pass this (u32 milliseconds hold 49 days).
const REBASE_MS: u64 = 1 << 31;

/// The quality of a stored point.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum PointQuality {
    Good = 0,
    Uncertain = 1,
    Bad = 2,
}

impl From<&Quality> for PointQuality {
    fn from(q: &Quality) -> Self {
        match q {
            Quality::Good => PointQuality::Good,
            Quality::Uncertain(_) => PointQuality::Uncertain,
            Quality::Bad(_) => PointQuality::Bad,
        }
    }
}

/// One stored sample: 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    /// Milliseconds after the series' base time.
    ms: u32,
    pub quality: PointQuality,
    /// The value; NaN when there is none (a Bad point, or a value that is not a number).
    pub value: f64,
}

impl Point {
    /// The value when it can be drawn: not Bad, a finite number.
    pub fn usable(&self) -> Option<f64> {
        (self.quality != PointQuality::Bad && self.value.is_finite()).then_some(self.value)
    }
}

/// The history of one tag.
#[derive(Clone, Debug)]
pub struct Series {
    base: SystemTime,
    points: VecDeque<Point>,
    capacity: usize,
    retention: Duration,
}

impl Series {
    pub fn new(retention: Duration, base: SystemTime) -> Series {
        let per_second = retention.as_secs().saturating_mul(MAX_RATE);
        let capacity = usize::try_from(per_second).unwrap_or(usize::MAX).max(MIN_CAPACITY);
        Series { base, points: VecDeque::new(), capacity, retention }
    }

    /// The most points this series keeps.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn len(&self) -> usize {
        self.points.len()
    }

    pub fn is_empty(&self) -> bool {
        self.points.is_empty()
    }

    /// Bytes held by the points (allocated, not only used).
    pub fn bytes(&self) -> usize {
        self.points.capacity() * std::mem::size_of::<Point>()
    }

    /// The time of a point.
    pub fn time(&self, p: &Point) -> SystemTime {
        self.base + Duration::from_millis(u64::from(p.ms))
    }

    /// Adds a sample taken at `t`. Older points past the retention (all but the one that holds
    /// at the window start) and points beyond the capacity are dropped, oldest first.
    pub fn push(&mut self, t: SystemTime, value: Option<f64>, quality: PointQuality) {
        let value = match quality {
            PointQuality::Bad => f64::NAN,
            _ => value.unwrap_or(f64::NAN),
        };
        let mut ms = self.offset(t);
        if let Some(last) = self.points.back() {
            // Never out of order: a clock that went back stores at the latest time seen.
            ms = ms.max(u64::from(last.ms));
            if last.quality == quality && (last.value == value || last.value.is_nan() && value.is_nan()) {
                return;
            }
        }
        if ms >= REBASE_MS {
            self.rebase();
            ms = self.offset(t).max(self.points.back().map_or(0, |p| u64::from(p.ms)));
        }
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        if self.points.len() >= self.capacity {
            self.points.pop_front();
        } else if self.points.len() == self.points.capacity() {
            // Grow by an eighth (not double), never past the capacity: at most 12.5 % slack
            // while growing, none once full.
            let more = (self.points.len() / 8).max(64).min(self.capacity - self.points.len());
            self.points.reserve_exact(more);
        }
        self.points.push_back(Point { ms, quality, value });
        self.evict(t);
    }

    /// Adds a sample taken at `t` that may be older than the last point (a device's history
    /// delivered late, Sparkplug `is_historical`): put in its place in time; dropped when it is
    /// older than everything kept.
    pub fn insert(&mut self, t: SystemTime, value: Option<f64>, quality: PointQuality) {
        let ms = self.offset(t);
        let last = self.points.back().map(|p| u64::from(p.ms));
        if t < self.base || last.is_none_or(|last| ms >= last) {
            if t >= self.base || self.points.is_empty() {
                self.push(t, value, quality);
            }
            return;
        }
        let value = if quality == PointQuality::Bad { f64::NAN } else { value.unwrap_or(f64::NAN) };
        let ms = u32::try_from(ms).unwrap_or(u32::MAX);
        let at = self.points.partition_point(|p| p.ms <= ms);
        if self.points.len() >= self.capacity {
            if at == 0 {
                return;
            }
            self.points.pop_front();
            self.points.insert(at - 1, Point { ms, quality, value });
        } else {
            self.points.insert(at, Point { ms, quality, value });
        }
    }

    /// Drops points older than the retention, keeping the last one before the cut (its value holds
    /// into the retained span).
    fn evict(&mut self, now: SystemTime) {
        let Some(cut) = now.checked_sub(self.retention) else { return };
        let cut = self.offset(cut);
        while self.points.len() > 1 && self.points.get(1).is_some_and(|p| u64::from(p.ms) <= cut) {
            self.points.pop_front();
        }
    }

    /// Moves the base to the first point so offsets stay small.
    fn rebase(&mut self) {
        let Some(first) = self.points.front().map(|p| p.ms) else {
            return;
        };
        self.base += Duration::from_millis(u64::from(first));
        for p in &mut self.points {
            p.ms -= first;
        }
    }

    /// Milliseconds of `t` from the base, negative before it.
    fn rel_ms(&self, t: SystemTime) -> i64 {
        match t.duration_since(self.base) {
            Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
            Err(e) => i64::try_from(e.duration().as_millis()).map(|m| -m).unwrap_or(i64::MIN),
        }
    }

    /// Milliseconds of `t` after the base (0 before it).
    fn offset(&self, t: SystemTime) -> u64 {
        t.duration_since(self.base).map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX)).unwrap_or(0)
    }

    /// The point in force at `t`: the last one at or before it.
    pub fn at(&self, t: SystemTime) -> Option<&Point> {
        if t < self.base {
            return None;
        }
        let ms = self.offset(t);
        let i = self.points.partition_point(|p| u64::from(p.ms) <= ms);
        i.checked_sub(1).and_then(|i| self.points.get(i))
    }

    /// The points with times in `[t0, t1]`, oldest first.
    pub fn between(&self, t0: SystemTime, t1: SystemTime) -> impl Iterator<Item = &Point> {
        let (a, b) = (self.offset(t0), self.offset(t1));
        let start = if t0 < self.base { 0 } else { self.points.partition_point(|p| u64::from(p.ms) < a) };
        let end = if t1 < self.base { 0 } else { self.points.partition_point(|p| u64::from(p.ms) <= b) };
        self.points.range(start..end.max(start))
    }
}

/// One screen column of a pen: the range of the usable values in its time slot, and the worst
/// quality seen in it. A slot that had data but no usable value (Bad throughout) has NaN `min`
/// and `max`: a gap to draw, marked Bad.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Column {
    pub min: f64,
    pub max: f64,
    pub quality: PointQuality,
}

/// Decimates the span `[t0, t1)` of a series into `n` equal time slots, each the min and max of the
/// values in force during it (the value held from the slot before counts), so a one-sample spike
/// is never lost. A slot without data — before the first point, after `live` (the newest time
/// there can be data for) — is `None`; one that was Bad throughout is a Bad column with NaN
/// `min`/`max`. Both are gaps, never a line.
pub fn decimate(s: &Series, t0: SystemTime, t1: SystemTime, n: usize, live: SystemTime) -> Vec<Option<Column>> {
    let mut out: Vec<Option<Column>> = vec![None; n];
    // In whole milliseconds from the series' base, as the points are: integer arithmetic only in
    // the loop over the points.
    let (a, b) = (s.rel_ms(t0), s.rel_ms(t1));
    let span = i128::from(b) - i128::from(a);
    if n == 0 || span <= 0 {
        return out;
    }
    // Slots per millisecond: one multiply per point (a division per point doubled the time).
    let scale = n as f64 / span as f64;
    let slot_of = |ms: i64| -> usize { (((ms - a).max(0) as f64 * scale) as usize).min(n - 1) };
    // The last slot that may hold data.
    let live = s.rel_ms(live);
    let last_slot = if live < a {
        return out;
    } else if live >= b {
        n - 1
    } else {
        slot_of(live)
    };
    let slot_start = |i: usize| i128::from(a) + span * i as i128 / n as i128;
    let mut held = s.at(t0).copied();
    // The first slot the held value has not been added to.
    let mut next = 0;
    let add = |c: &mut Option<Column>, p: &Point| {
        let q = c.map_or(p.quality, |c| c.quality.max(p.quality));
        match (p.usable(), c.as_mut()) {
            // `f64::min` and `max` skip the NaN of a column that was Bad until now.
            (Some(v), Some(c)) => {
                c.min = c.min.min(v);
                c.max = c.max.max(v);
                c.quality = q;
            }
            (Some(v), None) => *c = Some(Column { min: v, max: v, quality: q }),
            // A Bad point in a slot that has values marks it; alone it is a marked gap.
            (None, Some(c)) => c.quality = q,
            (None, None) => *c = Some(Column { min: f64::NAN, max: f64::NAN, quality: q }),
        }
    };
    for p in s.between(t0, t1) {
        let ms = i64::from(p.ms);
        let i = slot_of(ms).min(last_slot);
        // The held value fills the slots before this one, and this one if it was in force at
        // the slot's start.
        while next < i {
            if let Some(h) = &held {
                add(&mut out[next], h);
            }
            next += 1;
        }
        if next == i {
            if let Some(h) = held.filter(|_| i128::from(ms) > slot_start(i)) {
                add(&mut out[i], &h);
            }
            next = i + 1;
        }
        add(&mut out[i], p);
        held = Some(*p);
    }
    while next <= last_slot {
        if let Some(h) = &held {
            add(&mut out[next], h);
        }
        next += 1;
    }
    out
}

/// The history of every tag that needs one.
#[derive(Clone, Debug, Default)]
pub struct History {
    /// Indexed by tag; `None` for tags without history.
    series: Vec<Option<Series>>,
}

impl History {
    /// History for `tags` (others keep none), each over `retention`.
    pub fn new(n_tags: usize, tags: &[TagId], retention: Duration, now: SystemTime) -> History {
        let mut series = vec![None; n_tags];
        for t in tags {
            if let Some(s) = series.get_mut(t.index()) {
                *s = Some(Series::new(retention, now));
            }
        }
        History { series }
    }

    /// Records a sample of `tag` (at its receive time) if the tag keeps history.
    pub fn record(&mut self, tag: TagId, s: &Sample) {
        if let Some(Some(series)) = self.series.get_mut(tag.index()) {
            let v = s.value.as_ref().and_then(|v| v.as_f64());
            series.push(s.recv_ts, v, PointQuality::from(&s.quality));
        }
    }

    /// Records a sample of `tag` from the device's history, at its source time (or its receive
    /// time when it has none), in its place among the points kept.
    pub fn record_past(&mut self, tag: TagId, s: &Sample) {
        if let Some(Some(series)) = self.series.get_mut(tag.index()) {
            let v = s.value.as_ref().and_then(|v| v.as_f64());
            series.insert(s.source_ts.unwrap_or(s.recv_ts), v, PointQuality::from(&s.quality));
        }
    }

    pub fn series(&self, tag: TagId) -> Option<&Series> {
        self.series.get(tag.index()).and_then(|s| s.as_ref())
    }

    /// Bytes held by all points.
    pub fn bytes(&self) -> usize {
        self.series.iter().flatten().map(Series::bytes).sum()
    }

    /// The most bytes the points of `tags` series kept over `retention` can hold: each series
    /// full, [`Series::capacity`] points of 16 bytes. Pure (nothing is allocated), so a layout
    /// can be checked against a memory budget before anything runs.
    pub fn worst_case_bytes(tags: usize, retention: Duration) -> u64 {
        let per_series = Series::new(retention, SystemTime::UNIX_EPOCH).capacity() as u64;
        let per_series = per_series.saturating_mul(std::mem::size_of::<Point>() as u64);
        per_series.saturating_mul(tags as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::{Reason, Value};

    fn t(ms: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000) + Duration::from_millis(ms)
    }

    fn series(points: &[(u64, f64)]) -> Series {
        let mut s = Series::new(Duration::from_secs(7200), t(0));
        for &(ms, v) in points {
            s.push(t(ms), Some(v), PointQuality::Good);
        }
        s
    }

    fn values(s: &Series) -> Vec<f64> {
        s.points.iter().map(|p| p.value).collect()
    }

    #[test]
    fn a_point_is_16_bytes() {
        assert_eq!(std::mem::size_of::<Point>(), 16);
    }

    #[test]
    fn repeats_are_not_stored_and_changes_are() {
        let s = series(&[(0, 1.0), (100, 1.0), (200, 2.0), (300, 2.0), (400, 1.0)]);
        assert_eq!(values(&s), [1.0, 2.0, 1.0]);
        let mut s = series(&[(0, 1.0)]);
        s.push(t(100), Some(1.0), PointQuality::Uncertain);
        s.push(t(200), None, PointQuality::Bad);
        s.push(t(300), Some(5.0), PointQuality::Bad);
        assert_eq!(s.len(), 3, "a Bad point keeps no value, so two Bad points in a row are one");
        assert!(s.points[2].value.is_nan());
    }

    #[test]
    fn retention_drops_old_points_but_keeps_the_one_in_force() {
        let mut s = Series::new(Duration::from_secs(60), t(0));
        for i in 0..200u64 {
            s.push(t(i * 1000), Some(i as f64), PointQuality::Good);
        }
        // At 199 s, the window starts at 139 s: the point of 139 s holds there.
        assert_eq!(s.points.front().map(|p| p.value), Some(139.0));
        assert_eq!(s.len(), 61);
        assert_eq!(s.at(t(139_500)).map(|p| p.value), Some(139.0));
        assert_eq!(s.at(t(1_000)), None, "evicted");
    }

    #[test]
    fn capacity_bounds_memory_whatever_the_rate() {
        let mut s = Series::new(Duration::from_secs(200), t(0));
        assert_eq!(s.capacity(), 2000);
        for i in 0..100_000u64 {
            s.push(t(i), Some((i % 2) as f64), PointQuality::Good);
        }
        assert_eq!(s.len(), 2000);
        assert_eq!(s.bytes(), 2000 * 16, "full: exactly 16 bytes a point");
        let mut g = Series::new(Duration::from_secs(100_000), t(0));
        for i in 0..100_000u64 {
            g.push(t(i), Some(i as f64), PointQuality::Good);
            assert!(g.bytes() <= g.len() * 16 * 9 / 8 + 64 * 16, "{} points in {} bytes", g.len(), g.bytes());
        }
        assert_eq!(s.time(&s.points[0]), t(98_000));
    }

    #[test]
    fn time_queries() {
        let s = series(&[(1000, 1.0), (2000, 2.0), (3000, 3.0)]);
        assert_eq!(s.at(t(999)), None);
        assert_eq!(s.at(t(1000)).map(|p| p.value), Some(1.0));
        assert_eq!(s.at(t(2999)).map(|p| p.value), Some(2.0));
        assert_eq!(s.at(t(9000)).map(|p| p.value), Some(3.0));
        let b: Vec<f64> = s.between(t(1500), t(3000)).map(|p| p.value).collect();
        assert_eq!(b, [2.0, 3.0]);
        assert_eq!(s.between(t(3001), t(9000)).count(), 0);
        assert_eq!(s.between(t(5000), t(1000)).count(), 0, "an empty range, not a panic");
        let before = SystemTime::UNIX_EPOCH;
        assert_eq!(s.at(before), None);
        assert_eq!(s.between(before, t(1000)).count(), 1);
    }

    #[test]
    fn a_clock_going_backwards_never_reorders() {
        let mut s = series(&[(5000, 1.0)]);
        s.push(t(1000), Some(2.0), PointQuality::Good);
        s.push(SystemTime::UNIX_EPOCH, Some(3.0), PointQuality::Good);
        let times: Vec<SystemTime> = s.points.iter().map(|p| s.time(p)).collect();
        assert_eq!(times, [t(5000), t(5000), t(5000)]);
        assert_eq!(s.at(t(5000)).map(|p| p.value), Some(3.0));
    }

    #[test]
    fn past_points_go_in_their_place() {
        let mut s = Series::new(Duration::from_secs(3600), t(0));
        s.push(t(10), Some(1.0), PointQuality::Good);
        s.push(t(30), Some(3.0), PointQuality::Good);
        s.insert(t(20), Some(2.0), PointQuality::Good);
        s.insert(t(40), Some(4.0), PointQuality::Good);
        let values: Vec<f64> = s.points.iter().map(|p| p.value).collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(s.at(t(25)).map(|p| p.value), Some(2.0));
        let before = s.points.len();
        s.insert(SystemTime::UNIX_EPOCH, Some(9.0), PointQuality::Good);
        assert!(s.points.len() <= before + 1, "a point before the series base is dropped or kept first");
    }

    #[test]
    fn offsets_rebase_after_weeks() {
        let mut s = Series::new(Duration::from_secs(3600), t(0));
        let day = 86_400_000;
        for i in 0..60u64 {
            s.push(t(i * day), Some(i as f64), PointQuality::Good);
        }
        assert_eq!(s.at(t(59 * day)).map(|p| p.value), Some(59.0));
        assert_eq!(s.time(s.points.back().unwrap()), t(59 * day));
    }

    #[test]
    fn decimation_keeps_a_single_spike_among_a_million_points() {
        let mut s = Series::new(Duration::from_secs(1_000_000), t(0));
        for i in 0..1_000_000u64 {
            let v = if i == 654_321 { 100.0 } else { (i % 3) as f64 };
            s.push(t(i), Some(v), PointQuality::Good);
        }
        let cols = decimate(&s, t(0), t(1_000_000), 200, t(1_000_000));
        assert_eq!(cols.len(), 200);
        let spikes: Vec<usize> = (0..200).filter(|&i| cols[i].is_some_and(|c| c.max == 100.0)).collect();
        assert_eq!(spikes, [130], "654,321 ms of 1,000,000 is column 130");
        assert!(cols.iter().all(|c| c.is_some_and(|c| c.min == 0.0)));
    }

    #[test]
    fn held_values_fill_columns_without_points() {
        let s = series(&[(0, 5.0), (9000, 7.0)]);
        let cols = decimate(&s, t(0), t(10_000), 10, t(10_000));
        let mins: Vec<f64> = cols.iter().map(|c| c.unwrap().min).collect();
        assert_eq!(mins, [5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 5.0, 7.0]);
        assert_eq!(cols[9].unwrap().max, 7.0);
    }

    #[test]
    fn gaps_stay_gaps() {
        let mut s = series(&[(0, 1.0)]);
        s.push(t(3000), None, PointQuality::Bad);
        s.push(t(6000), Some(2.0), PointQuality::Good);
        let cols = decimate(&s, t(0), t(10_000), 10, t(8000));
        let shown: Vec<Option<f64>> = cols.iter().map(|c| c.and_then(|c| c.max.is_finite().then_some(c.max))).collect();
        assert_eq!(
            shown,
            [Some(1.0), Some(1.0), Some(1.0), None, None, None, Some(2.0), Some(2.0), Some(2.0), None],
            "the Bad span is a gap, the future after `live` too"
        );
        assert!(cols[3..6].iter().all(|c| c.is_some_and(|c| c.quality == PointQuality::Bad)), "the Bad gap is marked");
        assert_eq!(cols[9], None, "no data is not Bad");
        assert_eq!(cols[2].unwrap().quality, PointQuality::Good);
        // A slot with a value and a Bad point is drawn but marked Bad.
        let cols = decimate(&s, t(0), t(10_000), 2, t(10_000));
        assert_eq!(cols[0], Some(Column { min: 1.0, max: 1.0, quality: PointQuality::Bad }));
        // Uncertain is kept as a mark.
        let mut u = series(&[(0, 1.0)]);
        u.push(t(500), Some(1.5), PointQuality::Uncertain);
        assert_eq!(decimate(&u, t(0), t(1000), 1, t(1000))[0].unwrap().quality, PointQuality::Uncertain);
    }

    #[test]
    fn decimation_of_nothing_and_odd_spans() {
        let empty = Series::new(Duration::from_secs(60), t(0));
        assert!(decimate(&empty, t(0), t(1000), 5, t(1000)).iter().all(Option::is_none));
        let s = series(&[(0, 1.0)]);
        assert!(decimate(&s, t(1000), t(1000), 5, t(1000)).iter().all(Option::is_none), "zero span");
        assert!(decimate(&s, t(2000), t(1000), 5, t(1000)).iter().all(Option::is_none), "reversed span");
        assert!(decimate(&s, t(0), t(1000), 0, t(1000)).is_empty());
        assert!(decimate(&s, t(0), t(1000), 4, t(0) - Duration::from_secs(1)).iter().all(Option::is_none));
        // Before the first point there is no data.
        let late = series(&[(5000, 1.0)]);
        let cols = decimate(&late, t(0), t(10_000), 10, t(10_000));
        assert!(cols[..5].iter().all(Option::is_none) && cols[5..].iter().all(Option::is_some));
    }

    #[test]
    fn history_records_only_its_tags() {
        let mut h = History::new(3, &[TagId(1)], Duration::from_secs(60), t(0));
        h.record(TagId(0), &Sample::good(Value::Float(1.0), t(1)));
        h.record(TagId(1), &Sample::good(Value::Bool(true), t(1)));
        h.record(TagId(1), &Sample::bad(Reason::Timeout, t(2)));
        h.record(TagId(9), &Sample::good(Value::Float(1.0), t(1)));
        assert!(h.series(TagId(0)).is_none());
        let s = h.series(TagId(1)).unwrap();
        assert_eq!(s.len(), 2);
        assert_eq!(s.points[0].value, 1.0);
        assert_eq!(s.points[1].quality, PointQuality::Bad);
        assert!(h.bytes() >= 32);
    }
}
