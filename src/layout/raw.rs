//! The layout file as written: a serde mirror of the YAML with locations on the fields that
//! validation refers to. Unknown fields are errors. The JSON schema in `assets/` is generated
//! from these types (see [`super::schema`]).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::de::Sp;
use super::duration::Dur;

/// A ttyhmi layout: connections to devices, the tags read through them, and screens.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "ttyhmi layout")]
pub struct RawLayout {
    /// Title shown at the top of the console.
    pub title: Option<String>,
    /// Devices to talk to, by name.
    pub connections: IndexMap<String, RawConnection>,
    /// Tags by name (letters, digits, `_`, `-`, `.`; starting with a letter or `_`).
    pub tags: IndexMap<String, RawTag>,
    /// Screens, in tab order. Without screens, one screen shows every tag.
    pub screens: Option<Vec<RawScreen>>,
}

/// The top-level keys [`RawLayout`] has; validation walks them one by one.
pub const TOP_LEVEL: &[&str] = &["title", "connections", "tags", "screens"];

/// A connection to one device. Exactly one protocol key (`modbus_tcp` or `opcua`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Connection")]
pub struct RawConnection {
    /// Modbus TCP device.
    pub modbus_tcp: Option<Sp<RawModbusTcp>>,
    /// OPC UA server.
    pub opcua: Option<Sp<RawOpcUa>>,
    /// OPC UA: publishing interval of the subscription (default 500ms).
    pub publishing_interval: Option<Sp<Dur>>,
    /// Default byte order of 32/64-bit values: ABCD (big-endian), CDAB (word swap), BADC (byte swap), DCBA (little-endian).
    pub byte_order: Option<Sp<RawByteOrder>>,
    /// Registers per read request, 1..125 (many devices need less).
    pub max_registers: Option<Sp<i64>>,
    /// Coils or discrete inputs per read request, 1..2000.
    pub max_bits: Option<Sp<i64>>,
    /// Unused registers bridged when merging neighbouring tags into one request.
    pub max_gap: Option<Sp<i64>>,
    /// Write bits of holding registers with FC22 mask write (default true); false: read-modify-write.
    pub mask_write: Option<Sp<bool>>,
    /// Time allowed for each request (default 1s).
    pub timeout: Option<Sp<Dur>>,
    /// Default poll period of the connection's tags (default 1s).
    pub poll: Option<Sp<Dur>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "ModbusTcp")]
pub struct RawModbusTcp {
    /// Host name or IP address.
    pub host: Sp<String>,
    /// TCP port (default 502).
    pub port: Option<Sp<i64>>,
    /// Default unit id (slave id) of the tags, 0..255 (default 1).
    pub unit: Option<Sp<i64>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "OpcUa")]
pub struct RawOpcUa {
    /// `opc.tcp://host:port[/path]`
    pub endpoint: Sp<String>,
    /// `none` (written explicitly), or `{ policy: Basic256Sha256 | Aes128_Sha256_RsaOaep | Aes256_Sha256_RsaPss, mode: Sign | SignAndEncrypt }`. Default: Basic256Sha256, SignAndEncrypt.
    pub security: Option<Sp<RawSecurity>>,
    /// Default anonymous.
    pub user: Option<Sp<RawUser>>,
}

/// `none`, or a policy and a mode.
#[derive(Debug)]
pub enum RawSecurity {
    Named(String),
    Policy { policy: Option<Sp<String>>, mode: Option<Sp<String>>, unknown: Vec<Sp<String>> },
}

impl<'de> Deserialize<'de> for RawSecurity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawSecurity;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("`none` or `{ policy: Basic256Sha256, mode: SignAndEncrypt }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawSecurity, E> {
                Ok(RawSecurity::Named(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<RawSecurity, A::Error> {
                let (mut policy, mut mode, mut unknown) = (None, None, Vec::new());
                while let Some(k) = map.next_key::<Sp<String>>()? {
                    match k.value.as_str() {
                        "policy" => policy = Some(map.next_value()?),
                        "mode" => mode = Some(map.next_value()?),
                        _ => {
                            map.next_value::<serde::de::IgnoredAny>()?;
                            unknown.push(k);
                        }
                    }
                }
                Ok(RawSecurity::Policy { policy, mode, unknown })
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawSecurity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Security".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "oneOf": [
                { "const": "none", "description": "No signing or encryption; only when written explicitly" },
                {
                    "type": "object",
                    "additionalProperties": false,
                    "required": ["policy", "mode"],
                    "properties": {
                        "policy": { "enum": ["Basic256Sha256", "Aes128_Sha256_RsaOaep", "Aes256_Sha256_RsaPss"] },
                        "mode": { "enum": ["Sign", "SignAndEncrypt"] }
                    }
                }
            ]
        })
    }
}

/// Who the console is to the server. Passwords are read from a file or an environment
/// variable, never written in the layout.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "User")]
pub struct RawUser {
    pub username: Option<Sp<String>>,
    /// A file holding the password (its first line); keep it readable by the console's account only.
    pub password_file: Option<Sp<String>>,
    /// An environment variable holding the password.
    pub password_env: Option<Sp<String>>,
    /// Not allowed: a password never stands in the layout (use password_file or password_env).
    pub password: Option<Sp<String>>,
    /// An X.509 user certificate and its private key (PEM).
    pub certificate: Option<Sp<RawUserCert>>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "UserCertificate")]
pub struct RawUserCert {
    pub cert: Sp<String>,
    pub key: Sp<String>,
}

#[derive(Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, Debug)]
#[schemars(rename = "ByteOrder")]
pub enum RawByteOrder {
    ABCD,
    CDAB,
    BADC,
    DCBA,
}

/// A tag: one value in a device.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Tag")]
pub struct RawTag {
    /// Name of the connection the tag is read through.
    pub source: Sp<String>,
    /// Coil, 0-based protocol (PDU) address.
    pub coil: Option<Sp<i64>>,
    /// Discrete input, 0-based protocol (PDU) address.
    pub discrete: Option<Sp<i64>>,
    /// Input register, 0-based protocol (PDU) address.
    pub input: Option<Sp<i64>>,
    /// Holding register, 0-based protocol (PDU) address.
    pub holding: Option<Sp<i64>>,
    /// Classic Modicon reference as quoted text with all its digits, e.g. "40004" (holding 3), "00001" (coil 0), "300010" (input 9).
    pub modicon: Option<Sp<String>>,
    /// Value type (default u16 for registers, bool for coils and discrete inputs).
    #[serde(rename = "type")]
    pub ty: Option<Sp<RawType>>,
    /// Byte order of this 32/64-bit value, overriding the connection's.
    pub byte_order: Option<Sp<RawByteOrder>>,
    /// A boolean held in bit 0..15 of a register.
    pub bit: Option<Sp<i64>>,
    /// Characters of a string (two per register).
    pub length: Option<Sp<i64>>,
    /// Linear scaling from raw device values to engineering units.
    pub scale: Option<Sp<RawScale>>,
    /// Unit id overriding the connection's.
    pub unit: Option<Sp<i64>>,
    /// Engineering units shown after the value.
    pub units: Option<String>,
    /// Decimals shown (floating-point values).
    pub decimals: Option<Sp<i64>>,
    /// What the tag is, for people.
    pub description: Option<String>,
    /// Poll period overriding the connection's.
    pub poll: Option<Sp<Dur>>,
    /// Text shown when a boolean is true.
    pub on_text: Option<Sp<String>>,
    /// Text shown when a boolean is false.
    pub off_text: Option<Sp<String>>,
    /// OPC UA: the NodeId, e.g. "ns=2;s=Plant.Tank1.Level", "nsu=urn:example:plant;s=Pump1.Speed", "i=2258".
    pub node: Option<Sp<String>>,
    /// OPC UA: requested sampling interval (default: the publishing interval).
    pub sampling: Option<Sp<Dur>>,
    /// OPC UA: report only changes larger than this.
    pub deadband: Option<Sp<RawDeadband>>,
    /// OPC UA: monitored-item queue size (default 1).
    pub queue_size: Option<Sp<i64>>,
    /// Operators may write this tag: the lowest role allowed and the limits.
    pub write: Option<Sp<RawWrite>>,
}

/// Who may write a tag, and within which limits.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Write")]
pub struct RawWrite {
    /// The lowest role allowed: operator, engineer or admin.
    pub role: Sp<String>,
    /// Lowest value allowed (engineering units).
    pub min: Option<Sp<f64>>,
    /// Highest value allowed (engineering units).
    pub max: Option<Sp<f64>>,
    /// Largest change allowed in one write.
    pub max_step: Option<Sp<f64>>,
}

/// Exactly one of `absolute` (in engineering units) or `percent` (of the EURange).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Deadband")]
pub struct RawDeadband {
    pub absolute: Option<f64>,
    pub percent: Option<f64>,
}

#[derive(Clone, Copy, Deserialize, JsonSchema, PartialEq, Eq, Debug)]
#[serde(rename_all = "lowercase")]
#[schemars(rename = "ValueType")]
pub enum RawType {
    Bool,
    U16,
    I16,
    U32,
    I32,
    U64,
    I64,
    F32,
    F64,
    Bcd16,
    Bcd32,
    String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Scale")]
pub struct RawScale {
    /// Two raw values...
    pub raw: [f64; 2],
    /// ...and the engineering values they stand for.
    pub eu: [f64; 2],
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Screen")]
pub struct RawScreen {
    /// Tab title.
    pub title: Sp<String>,
    /// Panels, top to bottom.
    pub panels: Vec<Sp<RawPanel>>,
}

/// A panel: one key naming its kind.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Panel")]
pub enum RawPanel {
    /// A table of tags with value, units, quality and age.
    Grid(RawGrid),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Grid")]
pub struct RawGrid {
    pub title: Option<String>,
    /// Tag names, in row order.
    pub tags: Vec<Sp<String>>,
}
