//! The demo's own layout keeps its alarms honest (issue 12 A.7): a setpoint the editor allows
//! never sits at a trip point, and every limit alarm the plant's noise could chatter has a
//! deadband.

use ttyhmi::alarm::{LimitKind, RuleKind};

#[test]
fn no_setpoint_the_editor_allows_reaches_the_demos_trips() {
    let l = ttyhmi::layout::load(std::path::Path::new("layouts/demo.yaml")).unwrap_or_else(|e| panic!("{e}"));
    let sp = l.tag(l.tag_id("PIC_101_SP").expect("the pressure setpoint"));
    let max = sp.write.and_then(|w| w.max).expect("a write limit");
    let pv = l.tag_id("P_101").expect("the header pressure");
    let mut trips = 0;
    for r in l.alarms.iter().filter(|r| r.tag == pv) {
        if let RuleKind::Limit { kind: LimitKind::HiHi | LimitKind::Hi, limit } = r.kind {
            if r.priority == ttyhmi::alarm::Priority::Critical {
                trips += 1;
                assert!(max < limit - r.deadband, "{}: setpoint up to {max} against a trip at {limit}", r.key);
            }
            assert!(r.deadband > 0.0, "{} has no deadband: the plant's noise would chatter it", r.key);
        }
    }
    assert_eq!(trips, 1, "the demo has one critical trip on the header pressure");
}
