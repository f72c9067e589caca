//! OPC UA NodeIds in their standard text forms (OPC UA Part 6, 5.3.1.10), parsed without any
//! OPC UA library: `i=2258`, `ns=2;s=Plant.Tank1.Level`, `nsu=urn:example:plant;s=Pump1.Speed`,
//! `ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a`, `ns=1;b=M/RbKBsRVkePCePcx24oRA==`.

use std::fmt;

/// Which namespace: by index (may change between server restarts) or by URI (resolved through
/// the server's NamespaceArray at every connect).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Namespace {
    Index(u16),
    Uri(String),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Identifier {
    Numeric(u32),
    String(String),
    /// Canonical lower-case `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
    Guid(String),
    Opaque(Vec<u8>),
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct NodeRef {
    pub namespace: Namespace,
    pub identifier: Identifier,
}

impl NodeRef {
    pub fn parse(text: &str) -> Result<NodeRef, String> {
        let t = text.trim();
        let (namespace, rest) = if let Some(r) = t.strip_prefix("nsu=") {
            let (uri, rest) =
                r.split_once(';').ok_or_else(|| format!("`{text}`: after nsu=URI write `;` and the identifier"))?;
            if uri.is_empty() {
                return Err(format!("`{text}`: the namespace URI is empty"));
            }
            (Namespace::Uri(uri.to_string()), rest)
        } else if let Some(r) = t.strip_prefix("ns=") {
            let (idx, rest) =
                r.split_once(';').ok_or_else(|| format!("`{text}`: after ns=N write `;` and the identifier"))?;
            let idx: u16 =
                idx.parse().map_err(|_| format!("`{text}`: namespace index `{idx}` is not a number 0..65535"))?;
            (Namespace::Index(idx), rest)
        } else {
            (Namespace::Index(0), t)
        };
        let (kind, value) = rest.split_once('=').ok_or_else(|| {
            format!("`{text}` is not a NodeId; write e.g. `i=2258`, `ns=2;s=Plant.Tank1.Level` or `nsu=urn:x;s=Name`")
        })?;
        let identifier =
            match kind {
                "i" => Identifier::Numeric(
                    value
                        .parse()
                        .map_err(|_| format!("`{text}`: numeric identifier `{value}` is not a number 0..4294967295"))?,
                ),
                "s" if value.is_empty() => return Err(format!("`{text}`: the string identifier is empty")),
                "s" => Identifier::String(value.to_string()),
                "g" => Identifier::Guid(parse_guid(value).ok_or_else(|| {
                    format!("`{text}`: `{value}` is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)")
                })?),
                "b" => Identifier::Opaque(
                    decode_base64(value).ok_or_else(|| format!("`{text}`: `{value}` is not base64"))?,
                ),
                k => return Err(format!("`{text}`: unknown identifier type `{k}=`; use i=, s=, g= or b=")),
            };
        Ok(NodeRef { namespace, identifier })
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Namespace::Index(0) => {}
            Namespace::Index(i) => write!(f, "ns={i};")?,
            Namespace::Uri(u) => write!(f, "nsu={u};")?,
        }
        match &self.identifier {
            Identifier::Numeric(n) => write!(f, "i={n}"),
            Identifier::String(s) => write!(f, "s={s}"),
            Identifier::Guid(g) => write!(f, "g={g}"),
            Identifier::Opaque(b) => write!(f, "b={}", encode_base64(b)),
        }
    }
}

fn parse_guid(s: &str) -> Option<String> {
    let parts: Vec<&str> = s.split('-').collect();
    let lens = [8, 4, 4, 4, 12];
    (parts.len() == 5 && parts.iter().zip(lens).all(|(p, n)| p.len() == n && p.bytes().all(|b| b.is_ascii_hexdigit())))
        .then(|| s.to_ascii_lowercase())
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim_end_matches('=');
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let v = B64.iter().position(|&b| b == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    (!s.is_empty()).then_some(out)
}

fn encode_base64(b: &[u8]) -> String {
    let mut out = String::new();
    for chunk in b.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |a, (i, &x)| a | (x as u32) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_standard_form() {
        let n = NodeRef::parse("i=2258").unwrap();
        assert_eq!((n.namespace, n.identifier), (Namespace::Index(0), Identifier::Numeric(2258)));
        let n = NodeRef::parse("ns=2;s=Plant.Tank1.Level").unwrap();
        assert_eq!(n.identifier, Identifier::String("Plant.Tank1.Level".into()));
        assert_eq!(n.namespace, Namespace::Index(2));
        let n = NodeRef::parse("nsu=urn:example:plant;s=Plant.Pump1.Speed").unwrap();
        assert_eq!(n.namespace, Namespace::Uri("urn:example:plant".into()));
        let n = NodeRef::parse("ns=1;g=09087E75-8E5E-499B-954F-F2A9603DB28A").unwrap();
        assert_eq!(n.identifier, Identifier::Guid("09087e75-8e5e-499b-954f-f2a9603db28a".into()));
        let n = NodeRef::parse("ns=1;b=M/RbKBsRVkePCePcx24oRA==").unwrap();
        let Identifier::Opaque(bytes) = &n.identifier else { panic!() };
        assert_eq!(bytes.len(), 16);
        assert_eq!(n.to_string(), "ns=1;b=M/RbKBsRVkePCePcx24oRA==");
        assert_eq!(NodeRef::parse("ns=2;s=a=b;c").unwrap().identifier, Identifier::String("a=b;c".into()));
    }

    #[test]
    fn round_trips() {
        for t in
            ["i=85", "ns=3;i=1001", "nsu=urn:x:y;s=A.B", "ns=1;g=09087e75-8e5e-499b-954f-f2a9603db28a", "ns=1;b=AAEC"]
        {
            assert_eq!(NodeRef::parse(t).unwrap().to_string(), t);
        }
    }

    #[test]
    fn malformed_ids_say_why() {
        for (t, why) in [
            ("", "is not a NodeId"),
            ("Plant.Level", "is not a NodeId"),
            ("ns=x;i=1", "is not a number"),
            ("ns=2", "write `;`"),
            ("ns=70000;i=1", "is not a number"),
            ("i=-1", "is not a number"),
            ("ns=2;s=", "is empty"),
            ("ns=1;g=1234", "is not a GUID"),
            ("ns=1;b=***", "is not base64"),
            ("ns=1;x=5", "unknown identifier type"),
            ("nsu=;s=a", "URI is empty"),
        ] {
            let e = NodeRef::parse(t).unwrap_err();
            assert!(e.contains(why), "{t}: {e}");
        }
    }
}
