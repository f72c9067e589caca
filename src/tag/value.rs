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
            // 16 digits and more are beyond a double's precision: the exact shortest form.
            Value::Float(f) if f.abs() >= 1e15 => format!("{f:e}"),
            Value::Float(f) => match decimals {
                Some(d) => format!("{:.*}", d as usize, f),
                None => format_float(*f),
            },
            // Text from a device: never a control or bidi character to a terminal as is.
            Value::Text(s) => crate::sanitize::clean(s).into_owned(),
        }
    }
}

/// A float with as many digits as it needs, but no more than 6 decimals; a number too small for
/// 6 decimals to show (below 0.001) in scientific notation, so it never reads as 0.
fn format_float(f: f64) -> String {
    if f != 0.0 && f.abs() < 1e-3 {
        return format!("{f:e}");
    }
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
        assert_eq!(Value::Float(-0.0000001).display(None), "-1e-7", "a small number never reads as 0");
        assert_eq!(Value::Float(0.00098765).display(None), "9.8765e-4");
        assert_eq!(Value::Float(-0.0).display(None), "0");
        assert_eq!(Value::Float(0.001).display(None), "0.001");
        assert_eq!(Value::Float(-f64::MAX).display(Some(2)), "-1.7976931348623157e308", "never 309 digits");
        assert_eq!(Value::Float(123456789012345.5).display(Some(1)), "123456789012345.5");
        assert_eq!(Value::Float(2.5).display(Some(2)), "2.50");
        assert_eq!(Value::Float(f64::NAN).display(Some(2)), "NaN");
        assert_eq!(Value::Int(-4).display(Some(2)), "-4");
    }

    #[test]
    fn text_from_a_device_is_shown_escaped() {
        assert_eq!(Value::Text("SAFE\u{202e}X\u{1b}[2J".into()).to_string(), "SAFE\\u{202e}X\\x1b[2J");
    }

    #[test]
    fn numbers_convert_text_does_not() {
        assert_eq!(Value::Bool(true).as_f64(), Some(1.0));
        assert_eq!(Value::UInt(7).as_f64(), Some(7.0));
        assert_eq!(Value::Text("x".into()).as_f64(), None);
    }
}
