use std::time::{Duration, SystemTime};

use super::{Quality, Reason, Sample, TagId};

/// The latest sample of every tag of a layout, indexed by [`TagId`].
#[derive(Clone, Debug)]
pub struct TagStore {
    latest: Vec<Sample>,
}

impl TagStore {
    /// A store of `n` tags, each with no data yet.
    pub fn new(n: usize, now: SystemTime) -> Self {
        TagStore { latest: vec![Sample::no_data(now); n] }
    }

    pub fn len(&self) -> usize {
        self.latest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.latest.is_empty()
    }

    pub fn get(&self, id: TagId) -> Option<&Sample> {
        self.latest.get(id.index())
    }

    /// Stores a sample. A sample without a value (a Bad update) keeps the last value, so it stays
    /// visible, marked by the new quality, and keeps that value's receive time: the age shown is
    /// the age of the value, not of the last failed attempt. Returns whether anything a person
    /// can see changed.
    pub fn apply(&mut self, id: TagId, sample: Sample) -> bool {
        let Some(slot) = self.latest.get_mut(id.index()) else { return false };
        let changed =
            sample.value.as_ref().is_some_and(|v| slot.value.as_ref() != Some(v)) || sample.quality != slot.quality;
        match sample.value {
            Some(_) => *slot = sample,
            None if slot.value.is_some() => slot.quality = sample.quality,
            None => *slot = sample,
        }
        changed
    }

    /// A read confirmed the tag's current sample: only its receive time moves on.
    pub fn refresh(&mut self, id: TagId, recv_ts: SystemTime) {
        if let Some(slot) = self.latest.get_mut(id.index()) {
            slot.recv_ts = recv_ts;
        }
    }

    /// Marks every listed tag Bad for `reason`, keeping its last value.
    pub fn mark_bad(&mut self, ids: &[TagId], reason: Reason, now: SystemTime) -> bool {
        let mut changed = false;
        for &id in ids {
            changed |= self.apply(id, Sample::bad(reason.clone(), now));
        }
        changed
    }
}

/// The quality a person should see at `now`: a Good value with no update for `stale_after` is
/// Uncertain(Stale). A clock that jumped backwards never makes a value stale.
pub fn effective_quality(sample: &Sample, now: SystemTime, stale_after: Duration) -> Quality {
    match &sample.quality {
        Quality::Good => match now.duration_since(sample.recv_ts) {
            Ok(age) if age > stale_after => Quality::Uncertain(Reason::Stale),
            _ => Quality::Good,
        },
        q => q.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tag::Value;

    fn t(s: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(s)
    }

    #[test]
    fn starts_bad_not_connected_without_value() {
        let s = TagStore::new(2, t(0));
        let x = s.get(TagId(1)).unwrap();
        assert_eq!(x.value, None);
        assert_eq!(x.quality, Quality::Bad(Reason::NotConnected));
        assert!(s.get(TagId(2)).is_none());
    }

    #[test]
    fn bad_update_keeps_last_value() {
        let mut s = TagStore::new(1, t(0));
        assert!(s.apply(TagId(0), Sample::good(Value::Int(5), t(1))));
        assert!(!s.apply(TagId(0), Sample::good(Value::Int(5), t(2))), "same value and quality is no visible change");
        assert!(s.mark_bad(&[TagId(0)], Reason::Timeout, t(3)));
        let x = s.get(TagId(0)).unwrap();
        assert_eq!(x.value, Some(Value::Int(5)));
        assert_eq!(x.quality, Quality::Bad(Reason::Timeout));
        assert!(!s.apply(TagId(9), Sample::good(Value::Int(1), t(4))), "unknown id is ignored");
    }

    #[test]
    fn a_bad_update_keeps_the_age_of_the_last_value() {
        // Issue 12 A.6: last good read at 2 s; failed reconnects at 10 s and 14 s.
        let mut s = TagStore::new(1, t(0));
        s.apply(TagId(0), Sample::good(Value::Int(5), t(2)));
        s.mark_bad(&[TagId(0)], Reason::Disconnected("connection refused".into()), t(10));
        s.mark_bad(&[TagId(0)], Reason::Disconnected("connection refused".into()), t(14));
        let x = s.get(TagId(0)).unwrap();
        assert_eq!(x.recv_ts, t(2), "the value was received at 2 s");
        assert_eq!(x.quality, Quality::Bad(Reason::Disconnected("connection refused".into())));
        // A Bad sample that carries a value (OPC UA) is that value, received now.
        let with_value = Sample { value: Some(Value::Int(6)), ..Sample::bad(Reason::Other("Bad_x".into()), t(20)) };
        assert!(s.apply(TagId(0), with_value));
        assert_eq!(s.get(TagId(0)).unwrap().recv_ts, t(20));
        // With no value ever, the time of the attempt is all there is.
        let mut s = TagStore::new(1, t(0));
        s.mark_bad(&[TagId(0)], Reason::Timeout, t(3));
        assert_eq!(s.get(TagId(0)).unwrap().recv_ts, t(3));
    }

    #[test]
    fn staleness_is_computed_not_stored() {
        let s = Sample::good(Value::Int(1), t(10));
        assert_eq!(effective_quality(&s, t(12), Duration::from_secs(3)), Quality::Good);
        assert_eq!(effective_quality(&s, t(14), Duration::from_secs(3)), Quality::Uncertain(Reason::Stale));
        assert_eq!(effective_quality(&s, t(5), Duration::from_secs(3)), Quality::Good, "clock went backwards");
        let bad = Sample::no_data(t(0));
        assert_eq!(effective_quality(&bad, t(100), Duration::from_secs(3)), Quality::Bad(Reason::NotConnected));
    }
}
