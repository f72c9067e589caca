//! What a birth (NBIRTH or DBIRTH) declared: each metric's name, datatype and alias.

use std::collections::HashMap;

use super::out::{Out, shown};
use crate::driver::sparkplug::codec::DataType;
use crate::driver::sparkplug::proto::payload::Metric;

/// At most this many metrics are kept from one birth (the rest are logged and unknown).
pub(super) const MAX_METRICS: usize = 100_000;

/// One metric as born.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Def {
    /// The datatype, or the number of one this console does not take (0: none given).
    pub datatype: Result<DataType, u32>,
    pub alias: Option<u64>,
    /// Its place in the birth's list of metrics.
    pub index: usize,
}

/// The metrics of one birth.
#[derive(Debug, Default)]
pub(super) struct Catalog {
    by_name: HashMap<String, Def>,
    by_alias: HashMap<u64, String>,
}

/// A data message's metric, found (or not) in the birth.
pub(super) enum Found<'a> {
    Known(&'a str, &'a Def),
    UnknownAlias(u64),
    UnknownName(&'a str),
    NoName,
}

impl Catalog {
    /// The catalog of a birth's metrics; `what` (e.g. `DBIRTH Pump1`) names it in log lines.
    pub fn from_birth(metrics: &[Metric], what: &str, out: &mut Out) -> Catalog {
        let mut c = Catalog::default();
        if metrics.len() > MAX_METRICS {
            out.log(format!("{what}: {} metrics, only the first {MAX_METRICS} are taken", metrics.len()));
        }
        for (index, m) in metrics.iter().enumerate().take(MAX_METRICS) {
            let Some(name) = &m.name else {
                out.log(format!("{what}: a metric without a name (alias {:?}) is skipped", m.alias));
                continue;
            };
            let n = m.datatype.unwrap_or(0);
            let datatype = DataType::from_u32(n).ok_or(n);
            if datatype.is_err() {
                out.log(format!("{what}: metric {} has datatype {n}, which this console does not take", shown(name)));
            }
            let mut alias = m.alias;
            if let Some(a) = alias {
                match c.by_alias.get(&a) {
                    Some(other) if other != name => {
                        out.log(format!("{what}: alias {a} of {} is already {}; ignored", shown(name), shown(other)));
                        alias = None;
                    }
                    _ => {
                        c.by_alias.insert(a, name.clone());
                    }
                }
            }
            c.by_name.insert(name.clone(), Def { datatype, alias, index });
        }
        c
    }

    pub fn get(&self, name: &str) -> Option<&Def> {
        self.by_name.get(name)
    }

    /// A data message's metric: by name when it has one, else by alias.
    pub fn find<'a>(&'a self, m: &'a Metric) -> Found<'a> {
        if let Some(name) = &m.name {
            return match self.by_name.get_key_value(name.as_str()) {
                Some((n, d)) => Found::Known(n, d),
                None => Found::UnknownName(name),
            };
        }
        let Some(a) = m.alias else { return Found::NoName };
        match self.by_alias.get(&a).and_then(|n| self.by_name.get_key_value(n.as_str())) {
            Some((n, d)) => Found::Known(n, d),
            None => Found::UnknownAlias(a),
        }
    }
}

/// Whether a console can write a metric of `d` (numbers, booleans and text).
pub(super) fn writable(d: DataType) -> bool {
    use DataType::*;
    matches!(
        d,
        Int8 | Int16 | Int32 | Int64 | UInt8 | UInt16 | UInt32 | UInt64 | Float | Double | Boolean | String | Text
    )
}
