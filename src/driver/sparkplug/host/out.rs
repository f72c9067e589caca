//! The effects of one call, gathered, and text from the network made fit for a log line.

use crate::driver::sparkplug::Publish;
use crate::driver::sparkplug::codec::DataType;
use crate::tag::{Sample, TagId};

/// At most this many log lines per call (a hostile message must not flood the log).
pub(super) const MAX_LOGS: usize = 16;
/// Names from the network are cut to this many characters in log lines and reasons.
const SHOWN_CHARS: usize = 64;

/// What the session asks its caller to do.
#[derive(Clone, Debug, PartialEq)]
pub enum HostEffect {
    /// Live values and qualities.
    Samples(Vec<(TagId, Sample)>),
    /// `is_historical` metrics: for history and trends only, never the live value or alarms.
    Historical(Vec<(TagId, Sample)>),
    /// A rebirth request (NCMD) to publish.
    Publish(Publish),
    /// After each birth: each of its tags' datatype as born (Err: not in the birth, or a
    /// datatype a write cannot use).
    DataTypes(Vec<(TagId, Result<DataType, String>)>),
    /// The edge node's answer to a write (`Node Control/Write Result`).
    WriteResult { request_id: String, text: String },
    /// A line for the log (names from the network already escaped and cut).
    Log(String),
}

#[derive(Debug, Default)]
pub(super) struct Out {
    pub samples: Vec<(TagId, Sample)>,
    pub historical: Vec<(TagId, Sample)>,
    pub datatypes: Vec<(TagId, Result<DataType, String>)>,
    pub write_results: Vec<(String, String)>,
    pub publishes: Vec<Publish>,
    logs: Vec<String>,
    suppressed: usize,
    /// The first reason this call found to ask for a rebirth.
    pub want: Option<String>,
}

impl Out {
    pub fn log(&mut self, line: String) {
        if self.logs.len() < MAX_LOGS {
            self.logs.push(line);
        } else {
            self.suppressed += 1;
        }
    }

    pub fn want(&mut self, reason: String) {
        self.want.get_or_insert(reason);
    }

    pub fn into_effects(self) -> Vec<HostEffect> {
        let mut v: Vec<HostEffect> = self.logs.into_iter().map(HostEffect::Log).collect();
        if self.suppressed > 0 {
            v.push(HostEffect::Log(format!("… and {} more such lines", self.suppressed)));
        }
        if !self.datatypes.is_empty() {
            v.push(HostEffect::DataTypes(self.datatypes));
        }
        if !self.samples.is_empty() {
            v.push(HostEffect::Samples(self.samples));
        }
        if !self.historical.is_empty() {
            v.push(HostEffect::Historical(self.historical));
        }
        v.extend(self.write_results.into_iter().map(|(request_id, text)| HostEffect::WriteResult { request_id, text }));
        v.extend(self.publishes.into_iter().map(HostEffect::Publish));
        v
    }
}

/// `s` cut to a length fit for one log line, with control characters escaped.
pub(super) fn shown(s: &str) -> String {
    cut(&crate::sanitize::clean(s), SHOWN_CHARS)
}

/// `s` cut to `max` characters, marked with `…` when cut.
pub(super) fn cut(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((i, _)) => format!("{}…", &s[..i]),
        None => s.to_string(),
    }
}
