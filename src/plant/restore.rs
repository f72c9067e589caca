//! Alarm states across a restart: the journal read back, believed only as far as the audit log
//! backs it (a journal is a file, and a file can be edited: a line that would hide an alarm —
//! a shelve, an out of service — needs its operation on record in an audit log whose chain
//! verifies, by a user whose role allowed it).

use std::path::Path;

use super::Plant;
use crate::alarm::journal::{self, Journal};
use crate::alarm::{HidingAct, OnRecord};
use crate::audit::Action;
use crate::auth::Role;

/// What the start-up has to tell every session: a journal that could not be read or opened.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Restored {
    /// Said on screen (as a problem) when a session starts.
    pub note: Option<String>,
    /// The journal cannot be opened (why): its records wait in memory.
    pub journal_failed: Option<String>,
}

/// Opens the alarm journal and restores alarm states from it. A journal that cannot be read or
/// opened is said on screen; alarms still work, their changes are kept in memory until it can
/// be written.
pub fn open_journal(plant: &mut Plant, path: &Path, audit: &Path) -> (Option<Journal>, Restored) {
    let mut told = Restored::default();
    if plant.layout.alarms.is_empty() {
        return (None, told);
    }
    match journal::read(path) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("alarm journal: {w}");
            }
            let hides = loaded.records.iter().any(|r| r.shelved.is_some() || r.out_of_service.is_some());
            let on_record = if hides { hiding_acts_on_record(audit) } else { Ok(Vec::new()) };
            let on_record = on_record.unwrap_or_else(|why| {
                tracing::warn!("alarm journal: no shelve or out of service is restored: {why}");
                Vec::new()
            });
            let restored = plant.alarms.restore(&loaded.records, &on_record);
            for key in &restored.unknown {
                tracing::info!("alarm journal: {key} is no longer in the layout; its records are ignored");
            }
            for why in &restored.ignored {
                tracing::warn!("alarm journal {}: ignored: {why}", path.display());
            }
            tracing::info!("alarm journal {}: {} alarms restored", path.display(), restored.alarms);
            match journal::roll_over(path, &loaded.records, journal::ROLL_OVER_BYTES) {
                Ok(true) => tracing::info!("alarm journal {} rolled over (the old one is <name>.1)", path.display()),
                Ok(false) => {}
                Err(e) => tracing::warn!("{e}"),
            }
            told.note = what_was_left_out(loaded.warnings.len(), &restored.ignored);
        }
        Err(e) => {
            tracing::error!("{e}");
            told.note = Some(format!("alarm states not restored: {e}"));
        }
    }
    match Journal::open(path) {
        Ok(j) => (Some(j), told),
        Err(e) => {
            tracing::error!("{e}");
            told.journal_failed = Some(e.to_string());
            (None, told)
        }
    }
}

fn what_was_left_out(damaged: usize, ignored: &[String]) -> Option<String> {
    let mut parts = Vec::new();
    if damaged > 0 {
        parts.push(format!("{damaged} damaged line(s) skipped"));
    }
    if !ignored.is_empty() {
        parts.push(format!(
            "{} line(s) that would hide an alarm ignored: not in the audit log ({})",
            ignored.len(),
            ignored.join("; ")
        ));
    }
    (!parts.is_empty()).then(|| format!("alarm journal: {}; the rest restored (see the log)", parts.join("; ")))
}

/// The shelves and outs of service in the audit log at `path`, by users whose role allowed
/// them (engineer or above). An error when the log's chain does not verify: then nothing in it
/// is evidence.
pub fn hiding_acts_on_record(path: &Path) -> Result<Vec<OnRecord>, String> {
    let mut found = Vec::new();
    let report = crate::audit::verify_visiting(path, |r| {
        let act = match r.action {
            Action::AlarmShelve => HidingAct::Shelve,
            Action::AlarmOutOfService => HidingAct::OutOfService,
            _ => return,
        };
        let allowed = r.role.parse::<Role>().is_ok_and(|role| role.at_least(Role::Engineer));
        let at = time::OffsetDateTime::parse(&r.time, &time::format_description::well_known::Rfc3339);
        if let (true, Some(key), Ok(at)) = (allowed, &r.tag, at) {
            found.push(OnRecord { key: key.clone(), act, user: r.user.clone(), at: at.into() });
        }
    })
    .map_err(|e| e.to_string())?;
    match &report.problem {
        None => Ok(found),
        Some(p) => Err(format!("the audit log {} does not verify ({p})", path.display())),
    }
}
