//! What a session has open and where it is: the write dialog, the shelve / out-of-service
//! dialog, the alarm list's place and the bell, the trend window. Data only; the logic is in
//! [`super::write`], [`super::alarms`] and [`super::trend`].

use std::time::{Duration, SystemTime};

use crate::alarm::{AlarmId, AlarmState};
use crate::layout::TrendPanel;
use crate::plant::WritePlan;
use crate::tag::{TagId, Value};

/// The write dialog.
#[derive(Clone, Debug, PartialEq)]
pub enum WriteDialog {
    /// Typing the new value.
    Edit { tag: TagId, input: String, error: Option<String>, opened: SystemTime },
    /// Checking what will be written; the PIN (or the value again) confirms.
    Confirm(Confirm),
    /// Sent; waiting for the device.
    Pending { tag: TagId, new: Value },
}

#[derive(Clone, Debug, PartialEq)]
pub struct Confirm {
    pub old: Option<Value>,
    /// What goes on the wire, made once when the value was entered: shown here, and sent as is.
    /// Its tag, its description, a warning when it is not atomic, and the value the device will
    /// hold after it (what was typed when the register holds that exactly).
    pub plan: WritePlan,
    /// What was typed (as typed), when the device cannot hold it exactly (a scaled register's
    /// resolution, an f32's precision): the confirmation says so.
    pub typed: Option<String>,
    /// Typed so far (shown masked when it is a PIN).
    pub secret: String,
    pub needs_pin: bool,
    pub error: Option<String>,
    pub opened: SystemTime,
}

impl WriteDialog {
    pub fn tag(&self) -> TagId {
        match self {
            WriteDialog::Edit { tag, .. } | WriteDialog::Pending { tag, .. } => *tag,
            WriteDialog::Confirm(c) => c.plan.tag(),
        }
    }
}

impl Confirm {
    /// The value the device will hold after the write.
    pub fn new_value(&self) -> &Value {
        self.plan.expected()
    }
}

/// Which alarms the alarm list shows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AlarmList {
    /// Unacknowledged, acknowledged and returned-unacknowledged alarms.
    #[default]
    Active,
    Shelved,
    Suppressed,
    OutOfService,
}

impl AlarmList {
    pub const ALL: [AlarmList; 4] =
        [AlarmList::Active, AlarmList::Shelved, AlarmList::Suppressed, AlarmList::OutOfService];

    pub fn title(self) -> &'static str {
        match self {
            AlarmList::Active => "Active",
            AlarmList::Shelved => "Shelved",
            AlarmList::Suppressed => "Suppressed",
            AlarmList::OutOfService => "Out of service",
        }
    }

    pub fn holds(self, s: AlarmState) -> bool {
        match self {
            AlarmList::Active => {
                matches!(s, AlarmState::Unacknowledged | AlarmState::Acknowledged | AlarmState::ReturnedUnacknowledged)
            }
            AlarmList::Shelved => s == AlarmState::Shelved,
            AlarmList::Suppressed => s == AlarmState::Suppressed,
            AlarmList::OutOfService => s == AlarmState::OutOfService,
        }
    }

    pub fn next(self) -> AlarmList {
        let i = AlarmList::ALL.iter().position(|l| *l == self).unwrap_or(0);
        AlarmList::ALL[(i + 1) % AlarmList::ALL.len()]
    }
}

/// What the dialog asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DialogKind {
    Shelve,
    OutOfService,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Duration,
    Reason,
}

/// The shelve / out-of-service dialog: a duration (shelve only) and a reason.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmDialog {
    pub id: AlarmId,
    pub kind: DialogKind,
    pub duration: String,
    pub reason: String,
    pub field: Field,
    pub error: Option<String>,
}

/// The alarm list's place: which list, and (in `State::selected`) which row.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AlarmView {
    pub list: AlarmList,
    /// The bell rings for unacknowledged alarms until silenced.
    pub horn: bool,
    pub last_bell: Option<SystemTime>,
    /// The screen `a` was pressed on: Esc goes back there.
    pub opened_from: Option<usize>,
}

/// How the trends of the current screen are shown.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TrendView {
    /// The window chosen with `+`/`-`, for every trend of the screen; `None`: each panel's own.
    pub zoom: Option<Duration>,
    /// The right edge of the time axis; `None`: live (now).
    pub end: Option<SystemTime>,
    /// The freeze cursor: the time whose values are read out.
    pub cursor: Option<SystemTime>,
}

impl TrendView {
    /// The window of a panel.
    pub fn window(&self, panel: &TrendPanel) -> Duration {
        self.zoom.unwrap_or(panel.window)
    }

    /// The right edge of the time axis at `now`.
    pub fn end(&self, now: SystemTime) -> SystemTime {
        self.end.unwrap_or(now)
    }
}
