use std::fmt;

/// A tag value in engineering units.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Text(String),
}

impl Value {
    /// The value as a number, for scaling, trends and limits. Text has none.
    pub fn as_f64(&self) -> Option<f64> {
        match *self {
            Value::Bool(b) => Some(if b { 1.0 } else { 0.0 }),
            Value::Int(i) => Some(i as f64),
            Value::UInt(u) => Some(u as f64),
            Value::Float(f) => Some(f),
            Value::Text(_) => None,
        }
    }

    /// Formats the value for a person: `decimals` applies to floats only.
    pub fn display(&self, decimals: Option<u8>) -> String {
        match self {
            Value::Bool(b) => b.to_string(),
            Value::Int(i) => i.to_string(),
            Value::UInt(u) => u.to_string(),
            Value::Float(f) if !f.is_finite() => f.to_string(),
            Value::Float(f) => match decimals {
                Some(d) => format!("{:.*}", d as usize, f),
                None => format_float(*f),
            },
            Value::Text(s) => s.clone(),
        }
    }
}

/// A float with as many digits as it needs, but no more than 6 decimals.
fn format_float(f: f64) -> String {
    let s = format!("{f:.6}");
    let s = s.trim_end_matches('0');
    let s = s.strip_suffix('.').unwrap_or(s);
    if s == "-0" { "0".to_string() } else { s.to_string() }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display(None))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floats_are_trimmed_or_fixed() {
        assert_eq!(Value::Float(2.5).display(None), "2.5");
        assert_eq!(Value::Float(3.0).display(None), "3");
        assert_eq!(Value::Float(-0.0000001).display(None), "0");
        assert_eq!(Value::Float(2.5).display(Some(2)), "2.50");
        assert_eq!(Value::Float(f64::NAN).display(Some(2)), "NaN");
        assert_eq!(Value::Int(-4).display(Some(2)), "-4");
    }

    #[test]
    fn numbers_convert_text_does_not() {
        assert_eq!(Value::Bool(true).as_f64(), Some(1.0));
        assert_eq!(Value::UInt(7).as_f64(), Some(7.0));
        assert_eq!(Value::Text("x".into()).as_f64(), None);
    }
}
