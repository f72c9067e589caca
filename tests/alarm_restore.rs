//! Issue 12 C.17: a forged journal never hides an alarm. Appending one line with
//! `"to":"out_of_service"` (or a shelve until 2099) to the alarm journal hid a HIGH alarm from a
//! viewer, with nothing in the audit log. Real files: a journal and an audit log, read the way
//! the console reads them at start.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use ttyhmi::alarm::journal::Journal;
use ttyhmi::alarm::{AlarmState, Note, Shelve, ShelveState, Transition};
use ttyhmi::audit::{Action, Actor, AuditLog, RecordInput};
use ttyhmi::console::Console as State;
use ttyhmi::layout;
use ttyhmi::plant::restore::open_journal;
use ttyhmi::tag::{Sample, Value};

mod common;
use common::TempDir;

const LAYOUT: &str = "connections:\n  plc: { modbus_tcp: { host: h } }\ntags:\n  P: { source: plc, holding: 0, type: f32 }\nalarms:\n  P:\n    hi: { limit: 9, priority: high }\n";

fn state() -> State {
    let l = layout::parse(LAYOUT, "restore.yaml").unwrap_or_else(|e| panic!("{e}"));
    State::new(Arc::new(l), "viewer".into(), true, SystemTime::now())
}

fn actor(user: &str, role: &str) -> Actor {
    Actor { user: user.into(), host: "hmi1".into(), ssh_client: None, role: role.into(), session: None, via: None }
}

/// A journal holding the alarm raised by P = 10, then `more`; an audit log holding `records`.
fn files(dir: &Path, more: Vec<Transition>, records: Vec<RecordInput>) -> (PathBuf, PathBuf) {
    let mut s = state();
    let id = s.layout.tag_id("P").expect("P");
    let raised = s.plant.alarms.evaluate(id, &Sample::good(Value::Float(10.0), SystemTime::now()), SystemTime::now());
    assert_eq!(raised.len(), 1);
    let journal = dir.join("alarms.jsonl");
    let mut j = Journal::open(&journal).expect("journal");
    j.append(&raised).expect("append");
    j.append(&more).expect("append");
    let audit = dir.join("audit.jsonl");
    let mut a = AuditLog::open(&audit).expect("audit log");
    a.append(RecordInput::new(SystemTime::now(), &actor("root", "admin"), Action::ConsoleStart)).expect("append");
    for r in records {
        a.append(r).expect("append");
    }
    (journal, audit)
}

fn raised_then(to: AlarmState, edit: impl FnOnce(&mut Transition)) -> Transition {
    let mut s = state();
    let id = s.layout.tag_id("P").expect("P");
    let mut t =
        s.plant.alarms.evaluate(id, &Sample::good(Value::Float(10.0), SystemTime::now()), SystemTime::now()).remove(0);
    t.from = t.to;
    t.to = to;
    edit(&mut t);
    t
}

fn note(user: &str, at: SystemTime) -> Note {
    Note { user: user.into(), reason: "maintenance".into(), at }
}

/// The state after start, and what the console said.
fn restored(journal: &Path, audit: &Path) -> (AlarmState, String) {
    let mut s = state();
    let (_, told) = open_journal(&mut s.plant, journal, audit);
    let said = told.note.unwrap_or_default();
    (s.plant.alarms.alarms()[0].state(), said)
}

#[test]
fn a_forged_out_of_service_line_is_ignored_and_said() {
    let dir = TempDir::new("restore-oos");
    let now = SystemTime::now();
    let forged = raised_then(AlarmState::OutOfService, |t| t.out_of_service = Some(note("mallory", now)));
    let (journal, audit) = files(&dir.0, vec![forged], vec![]);
    let (state, said) = restored(&journal, &audit);
    assert_eq!(state, AlarmState::Unacknowledged, "the HIGH alarm is annunciated again");
    assert!(said.contains("ignored") && said.contains("P.hi"), "{said}");
}

#[test]
fn a_forged_shelve_until_2099_is_ignored() {
    let dir = TempDir::new("restore-shelve");
    let now = SystemTime::now();
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800); // 2099-01-01
    let forged = raised_then(AlarmState::Shelved, |t| {
        t.shelved =
            Some(ShelveState { kind: Shelve::For(Duration::from_secs(3600)), until, note: note("mallory", now) })
    });
    let (journal, audit) = files(&dir.0, vec![forged], vec![]);
    assert_eq!(restored(&journal, &audit).0, AlarmState::Unacknowledged);
}

#[test]
fn a_shelve_on_record_by_an_engineer_comes_back_clamped_to_the_maximum() {
    let dir = TempDir::new("restore-ok");
    let now = SystemTime::now();
    let until = SystemTime::UNIX_EPOCH + Duration::from_secs(4_070_908_800);
    let shelve = raised_then(AlarmState::Shelved, |t| {
        t.shelved = Some(ShelveState { kind: Shelve::For(Duration::from_secs(3600)), until, note: note("eve", now) })
    });
    let record =
        RecordInput::new(now - Duration::from_millis(20), &actor("eve", "engineer"), Action::AlarmShelve).tag("P.hi");
    let (journal, audit) = files(&dir.0, vec![shelve], vec![record]);
    let mut s = state();
    open_journal(&mut s.plant, &journal, &audit);
    let a = &s.plant.alarms.alarms()[0];
    assert_eq!(a.state(), AlarmState::Shelved);
    let until = a.shelved.as_ref().map(|sh| sh.until).expect("shelved");
    assert!(until <= now + s.plant.alarms.max_shelve(), "clamped to the maximum shelve from its record");
}

#[test]
fn an_operators_record_or_a_log_that_does_not_verify_is_no_evidence() {
    let now = SystemTime::now();
    let oos = || raised_then(AlarmState::OutOfService, |t| t.out_of_service = Some(note("olga", now)));
    let record = |role: &str| {
        RecordInput::new(now - Duration::from_millis(20), &actor("olga", role), Action::AlarmOutOfService).tag("P.hi")
    };
    // An operator may not take alarms out of service.
    let dir = TempDir::new("restore-role");
    let (journal, audit) = files(&dir.0, vec![oos()], vec![record("operator")]);
    assert_eq!(restored(&journal, &audit).0, AlarmState::Unacknowledged);
    // An engineer may, but the log was edited since: nothing in it counts.
    let dir = TempDir::new("restore-edited");
    let (journal, audit) = files(&dir.0, vec![oos()], vec![record("engineer")]);
    assert_eq!(restored(&journal, &audit).0, AlarmState::OutOfService, "on record: believed");
    let text = std::fs::read_to_string(&audit).unwrap().replacen("hmi1", "hmi2", 1);
    std::fs::write(&audit, text).unwrap();
    let (state, said) = restored(&journal, &audit);
    assert_eq!(state, AlarmState::Unacknowledged, "{said}");
}
