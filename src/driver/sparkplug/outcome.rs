//! The answer a gateway publishes for a command, as the value of its `Node Control/Write Result`
//! metric: `<request id> <verdict>: <details>`, one line. Verdicts: `written` (the device took
//! it and reads it back), `refused` (the gateway or the device said no: nothing changed),
//! `unknown` (it went out and no usable answer came).

/// The node metric the answers come in.
pub const WRITE_RESULT: &str = "Node Control/Write Result";

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    Written(String),
    Refused(String),
    Unknown(String),
}

impl Outcome {
    /// The metric's value for request `id`.
    pub fn text(&self, id: &str) -> String {
        let (verdict, details) = match self {
            Outcome::Written(d) => ("written", d),
            Outcome::Refused(d) => ("refused", d),
            Outcome::Unknown(d) => ("unknown", d),
        };
        format!("{id} {verdict}: {}", details.replace(['\n', '\r'], " "))
    }

    /// What the text after the request id says; anything unrecognised is an unknown outcome
    /// (the console never takes a write for done on words it does not understand).
    pub fn parse(text: &str) -> Outcome {
        let (verdict, details) = text.split_once(':').unwrap_or((text, ""));
        let details = details.trim().to_string();
        match verdict.trim() {
            "written" => Outcome::Written(details),
            "refused" => Outcome::Refused(details),
            _ => Outcome::Unknown(if details.is_empty() { text.to_string() } else { details }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_round_trip_and_strangers_are_unknown() {
        for o in [Outcome::Written("read back 12.5".into()), Outcome::Refused("above max_role".into())] {
            let text = o.text("r1");
            let (id, rest) = text.split_once(' ').unwrap();
            assert_eq!((id, Outcome::parse(rest)), ("r1", o));
        }
        assert_eq!(Outcome::parse("done"), Outcome::Unknown("done".into()));
        assert_eq!(Outcome::parse("WRITTEN: x"), Outcome::Unknown("x".into()), "only the exact verdict counts");
        assert_eq!(Outcome::Refused("a\nb".into()).text("i"), "i refused: a b");
    }
}
