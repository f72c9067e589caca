//! Sparkplug B topics (3.0.0, 4.1): `spBv1.0/<group>/<type>/<edge node>[/<device>]` and the host
//! application's `spBv1.0/STATE/<host id>`. Parsed from what a broker delivers (hostile: any
//! text), and formatted for what this program publishes.

use std::fmt;

/// The namespace of Sparkplug B.
pub const NAMESPACE: &str = "spBv1.0";

/// The message types of Sparkplug B.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MsgType {
    NBirth,
    NDeath,
    DBirth,
    DDeath,
    NData,
    DData,
    NCmd,
    DCmd,
}

impl MsgType {
    pub fn as_str(self) -> &'static str {
        match self {
            MsgType::NBirth => "NBIRTH",
            MsgType::NDeath => "NDEATH",
            MsgType::DBirth => "DBIRTH",
            MsgType::DDeath => "DDEATH",
            MsgType::NData => "NDATA",
            MsgType::DData => "DDATA",
            MsgType::NCmd => "NCMD",
            MsgType::DCmd => "DCMD",
        }
    }

    fn parse(s: &str) -> Option<MsgType> {
        Some(match s {
            "NBIRTH" => MsgType::NBirth,
            "NDEATH" => MsgType::NDeath,
            "DBIRTH" => MsgType::DBirth,
            "DDEATH" => MsgType::DDeath,
            "NDATA" => MsgType::NData,
            "DDATA" => MsgType::DData,
            "NCMD" => MsgType::NCmd,
            "DCMD" => MsgType::DCmd,
            _ => return None,
        })
    }

    /// A device's message (it has a device id in its topic).
    pub fn is_device(self) -> bool {
        matches!(self, MsgType::DBirth | MsgType::DDeath | MsgType::DData | MsgType::DCmd)
    }
}

/// A topic of an edge node or one of its devices.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Topic {
    pub group: String,
    pub kind: MsgType,
    pub node: String,
    /// Present exactly for device messages.
    pub device: Option<String>,
}

/// A topic as a broker delivered it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Node(Topic),
    /// `spBv1.0/STATE/<host id>`.
    State(String),
}

/// Why a topic is not Sparkplug B.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TopicError {
    #[error("not in the {NAMESPACE} namespace")]
    Namespace,
    #[error("unknown message type `{0}`")]
    Type(String),
    #[error("{0} parts; a Sparkplug topic has 4 (node) or 5 (device)")]
    Parts(usize),
    #[error("an empty or invalid id")]
    Id,
}

/// Whether `id` may be a group, node, device or host id: not empty, none of `/ + #`.
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && !id.contains(['/', '+', '#']) && !id.chars().any(char::is_control)
}

/// Parses a topic a broker delivered.
pub fn parse(topic: &str) -> Result<Parsed, TopicError> {
    let parts: Vec<&str> = topic.split('/').collect();
    if parts.first() != Some(&NAMESPACE) {
        return Err(TopicError::Namespace);
    }
    if parts.get(1) == Some(&"STATE") && parts.len() == 3 {
        return if valid_id(parts[2]) { Ok(Parsed::State(parts[2].to_string())) } else { Err(TopicError::Id) };
    }
    if !(4..=5).contains(&parts.len()) {
        return Err(TopicError::Parts(parts.len()));
    }
    let kind = MsgType::parse(parts[2]).ok_or_else(|| TopicError::Type(parts[2].chars().take(32).collect()))?;
    if kind.is_device() != (parts.len() == 5) {
        return Err(TopicError::Parts(parts.len()));
    }
    if !parts.iter().skip(1).all(|p| valid_id(p)) {
        return Err(TopicError::Id);
    }
    Ok(Parsed::Node(Topic {
        group: parts[1].to_string(),
        kind,
        node: parts[3].to_string(),
        device: parts.get(4).map(|d| d.to_string()),
    }))
}

impl Topic {
    /// A node message (`device: None`) or a device message.
    pub fn new(group: &str, kind: MsgType, node: &str, device: Option<&str>) -> Topic {
        Topic { group: group.into(), kind, node: node.into(), device: device.map(str::to_string) }
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{NAMESPACE}/{}/{}/{}", self.group, self.kind.as_str(), self.node)?;
        if let Some(d) = &self.device {
            write!(f, "/{d}")?;
        }
        Ok(())
    }
}

/// The STATE topic of host application `host_id`.
pub fn state_topic(host_id: &str) -> String {
    format!("{NAMESPACE}/STATE/{host_id}")
}

/// What a host application subscribes to for one edge node: all of its messages and its
/// devices' (never device topics alone, which would miss the NDEATH).
pub fn node_filter(group: &str, node: &str) -> String {
    format!("{NAMESPACE}/{group}/+/{node}/#")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_round_trip() {
        for t in [
            Topic::new("Plant", MsgType::NBirth, "Boiler1", None),
            Topic::new("Plant", MsgType::DData, "Boiler1", Some("plc1")),
            Topic::new("G", MsgType::DCmd, "N", Some("D")),
        ] {
            assert_eq!(parse(&t.to_string()), Ok(Parsed::Node(t)));
        }
        assert_eq!(parse("spBv1.0/STATE/control-room-1"), Ok(Parsed::State("control-room-1".into())));
    }

    #[test]
    fn hostile_topics_are_refused() {
        assert_eq!(parse("spAv1.0/G/NBIRTH/N"), Err(TopicError::Namespace));
        assert_eq!(parse("spBv1.0/G/NBIRTH"), Err(TopicError::Parts(3)));
        assert_eq!(parse("spBv1.0/G/NBIRTH/N/D"), Err(TopicError::Parts(5)), "a node message with a device");
        assert_eq!(parse("spBv1.0/G/DDATA/N"), Err(TopicError::Parts(4)), "a device message without one");
        assert_eq!(parse("spBv1.0/G/XDATA/N"), Err(TopicError::Type("XDATA".into())));
        assert_eq!(parse("spBv1.0//NDATA/N"), Err(TopicError::Id));
        assert_eq!(parse("spBv1.0/G/NDATA/N\u{1b}"), Err(TopicError::Id));
        assert_eq!(parse(""), Err(TopicError::Namespace));
        assert!(
            matches!(parse(&format!("spBv1.0/G/{}/N", "X".repeat(100_000))), Err(TopicError::Type(t)) if t.len() == 32)
        );
    }

    #[test]
    fn filters_cover_the_node_and_its_devices() {
        assert_eq!(node_filter("Plant", "Edge1"), "spBv1.0/Plant/+/Edge1/#");
        assert_eq!(state_topic("h"), "spBv1.0/STATE/h");
        assert!(valid_id("Pump-1.a"));
        assert!(!valid_id("a/b") && !valid_id("+") && !valid_id("#") && !valid_id(""));
    }
}
