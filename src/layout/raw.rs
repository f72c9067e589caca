//! The layout file as written: a serde mirror of the YAML with locations on the fields that
//! validation refers to. Unknown fields are errors. The JSON schema in `assets/` is generated
//! from these types (see [`super::schema`]).

use indexmap::IndexMap;
use schemars::JsonSchema;
use serde::Deserialize;

use super::de::Sp;
use super::duration::Dur;
use super::size::Size;

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
    /// Alarm rules by tag name (hihi, hi, lo, lolo, discrete, rate, deviation, bad_quality) or connection name (comms).
    /// With alarms and no alarms panel on any screen, a screen `Alarms` with one is added last: operators can always acknowledge.
    pub alarms: Option<IndexMap<String, RawAlarmRules>>,
    /// How alarms are annunciated and how long they may be shelved.
    pub alarm_options: Option<RawAlarmOptions>,
    /// How long trend history is kept, 1m to 48h (default 2h; no trend window may be longer), or
    /// `{ keep: 48h, budget: 1GiB }`: how long, and the most memory all trend history may take
    /// (default 512MiB; a layout that could take more is refused).
    pub history: Option<Sp<RawHistory>>,
    /// What `ttyhmi gateway` publishes: `{ sparkplug: { host, port, group, node } }` makes this
    /// layout a Sparkplug B edge node (each connection one device, each tag one metric). Needs at
    /// least one connection that is not `sparkplug`.
    pub publish: Option<Sp<RawPublish>>,
}

/// `history: 2h`, or `history: { keep: 2h, budget: 512MiB }`.
#[derive(Debug)]
pub enum RawHistory {
    Keep(Dur),
    Settings(RawHistorySettings),
}

/// `{ keep, budget }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "HistorySettings")]
pub struct RawHistorySettings {
    /// How long trend history is kept, 1m to 48h (default 2h).
    pub keep: Option<Sp<Dur>>,
    /// The most memory all trend history may take, 1MiB to 1TiB (default 512MiB): every tag on a
    /// trend, bar or sparkline may keep 10 points a second of `keep`, 16 bytes each.
    pub budget: Option<Sp<Size>>,
}

impl<'de> Deserialize<'de> for RawHistory {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawHistory;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a duration such as `2h`, or `{ keep: 2h, budget: 512MiB }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawHistory, E> {
                super::duration::parse_duration(v).map(|d| RawHistory::Keep(Dur(d))).map_err(E::custom)
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawHistory, A::Error> {
                RawHistorySettings::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(RawHistory::Settings)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawHistory {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "History".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let keep = generator.subschema_for::<Dur>();
        let settings = generator.subschema_for::<RawHistorySettings>();
        schemars::json_schema!({ "oneOf": [keep, settings] })
    }
}

/// The top-level keys [`RawLayout`] has; validation walks them one by one.
pub const TOP_LEVEL: &[&str] =
    &["title", "connections", "tags", "screens", "alarms", "alarm_options", "history", "publish"];

/// A connection to one device. Exactly one protocol key (`modbus_tcp`, `modbus_rtu`, `modbus_rtu_over_tcp`, `opcua` or `sparkplug`).
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Connection")]
pub struct RawConnection {
    /// Modbus TCP device.
    pub modbus_tcp: Option<Sp<RawModbusTcp>>,
    /// Modbus RTU frames (with CRC) over TCP: a serial-to-Ethernet gateway in transparent mode.
    /// Unit ids 1..247.
    pub modbus_rtu_over_tcp: Option<Sp<RawModbusTcp>>,
    /// Modbus RTU on a serial port (RS-485/RS-232): `{ port: /dev/ttyUSB0, baud: 19200, parity: even, data_bits: 8, stop_bits: 1 }`.
    pub modbus_rtu: Option<Sp<RawSerial>>,
    /// Modbus: default unit id of the tags (for `modbus_rtu`; TCP connections may name it in `modbus_tcp` instead).
    pub unit: Option<Sp<i64>>,
    /// Modbus RTU: silence kept on the bus between an answer and the next request (default 20ms;
    /// never less than the 3.5 character times the baud rate requires).
    pub turnaround: Option<Sp<Dur>>,
    /// OPC UA server.
    pub opcua: Option<Sp<RawOpcUa>>,
    /// OPC UA: publishing interval of the subscription (default 500ms).
    pub publishing_interval: Option<Sp<Dur>>,
    /// A Sparkplug B edge node (and its devices), read through an MQTT broker: this console is a
    /// Sparkplug host application named `host_id`.
    pub sparkplug: Option<Sp<RawSparkplug>>,
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
    /// Time allowed for each request (default 1s; Sparkplug: the time a write waits for the edge
    /// node's result, default 5s).
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
#[schemars(rename = "ModbusRtu")]
pub struct RawSerial {
    /// The serial device, e.g. `/dev/ttyUSB0` (`ttyhmi ports` lists them).
    pub port: Sp<String>,
    /// Bits per second (default 19200).
    pub baud: Option<Sp<i64>>,
    /// `none`, `even` or `odd` (default even, as the Modbus serial line specification says).
    pub parity: Option<Sp<String>>,
    /// 8 (RTU frames are 8-bit; 7 would be Modbus ASCII).
    pub data_bits: Option<Sp<i64>>,
    /// 1 or 2 (default 1).
    pub stop_bits: Option<Sp<i64>>,
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
    /// `true`: accept this server's (trusted) certificate although it does not name the host of
    /// the endpoint (`Bad_CertificateHostNameInvalid`). Only with security; everything else about
    /// the certificate is still checked. Default false.
    pub accept_host_name_mismatch: Option<Sp<bool>>,
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

/// Declares a block that reaches an MQTT broker: its own fields, then the broker fields every
/// such block has (host, port, TLS, login). serde's `flatten` would share them, but it cannot be
/// combined with `deny_unknown_fields`, which the did-you-mean errors rely on.
macro_rules! mqtt_block {
    ($(#[$meta:meta])* $name:ident $schema:literal { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(rename = $schema)]
        pub struct $name {
            /// The broker's host name or IP address.
            #[schemars(required)]
            pub host: Option<Sp<String>>,
            /// The broker's TCP port (default 1883, or 8883 with `tls`).
            pub port: Option<Sp<i64>>,
            /// The Sparkplug group id (no `/`, `+` or `#`).
            #[schemars(required)]
            pub group: Option<Sp<String>>,
            /// The Sparkplug edge node id (no `/`, `+` or `#`).
            #[schemars(required)]
            pub node: Option<Sp<String>>,
            $($(#[$fmeta])* pub $field: $ty,)*
            /// TLS to the broker: `{ ca, cert, key }` (the CA file that signs the broker's
            /// certificate; a client certificate and its key, together or neither).
            pub tls: Option<Sp<RawMqttTls>>,
            /// The MQTT user name (with password_file or password_env).
            pub username: Option<Sp<String>>,
            /// A file holding the MQTT password (its first line); keep it readable by this account only.
            pub password_file: Option<Sp<String>>,
            /// An environment variable holding the MQTT password.
            pub password_env: Option<Sp<String>>,
            /// Not allowed: a password never stands in the layout (use password_file or password_env).
            pub password: Option<Sp<String>>,
        }

        impl $name {
            /// The broker fields of the block written at `at`, to check them the same way in
            /// every block.
            pub fn broker(&self, at: super::node::Loc) -> RawBroker<'_> {
                RawBroker {
                    at,
                    host: &self.host,
                    port: &self.port,
                    tls: &self.tls,
                    username: &self.username,
                    password_file: &self.password_file,
                    password_env: &self.password_env,
                    password: &self.password,
                }
            }
        }
    };
}

mqtt_block! {
    /// `sparkplug:` of a connection: one Sparkplug B edge node read through an MQTT broker.
    RawSparkplug "Sparkplug" {
        /// This console's Sparkplug host id (its STATE topic `spBv1.0/STATE/<host_id>`); unique per console.
        #[schemars(required)]
        host_id: Option<Sp<String>>,
        /// How long a message that arrived out of order waits for the ones before it, 100ms..60s
        /// (default 2s); then the console asks the node for a rebirth.
        reorder_timeout: Option<Sp<Dur>>,
        /// The least time between two rebirth requests to the node, 1s..10m (default 10s).
        rebirth_cooldown: Option<Sp<Dur>>,
    }
}

mqtt_block! {
    /// `sparkplug:` of `publish:`: the edge node `ttyhmi gateway` runs.
    RawSpPublish "SparkplugPublish" {}
}

/// The broker fields of a `sparkplug:` block, borrowed.
pub struct RawBroker<'a> {
    /// Where the block is written.
    pub at: super::node::Loc,
    pub host: &'a Option<Sp<String>>,
    pub port: &'a Option<Sp<i64>>,
    pub tls: &'a Option<Sp<RawMqttTls>>,
    pub username: &'a Option<Sp<String>>,
    pub password_file: &'a Option<Sp<String>>,
    pub password_env: &'a Option<Sp<String>>,
    pub password: &'a Option<Sp<String>>,
}

/// `tls: { ca, cert, key }`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "MqttTls")]
pub struct RawMqttTls {
    /// The CA certificate (PEM) that signs the broker's certificate.
    #[schemars(required)]
    pub ca: Option<Sp<String>>,
    /// A client certificate (PEM), when the broker asks for one; with `key`.
    pub cert: Option<Sp<String>>,
    /// The client certificate's private key (PEM); with `cert`.
    pub key: Option<Sp<String>>,
}

/// `publish:` — exactly one protocol key.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Publish")]
pub struct RawPublish {
    /// Publish as a Sparkplug B edge node: `{ host, port, group, node }` and the broker's TLS and login.
    #[schemars(required)]
    pub sparkplug: Option<Sp<RawSpPublish>>,
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
    pub coil: Option<Sp<RawAddress>>,
    /// Discrete input, 0-based protocol (PDU) address.
    pub discrete: Option<Sp<RawAddress>>,
    /// Input register, 0-based protocol (PDU) address.
    pub input: Option<Sp<RawAddress>>,
    /// Holding register, 0-based protocol (PDU) address.
    pub holding: Option<Sp<RawAddress>>,
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
    /// Sparkplug: the device of the edge node the metric belongs to (without it: a metric of the node itself).
    pub device: Option<Sp<String>>,
    /// Sparkplug: the metric's name as the edge node's birth gives it (may contain `/` folders).
    pub metric: Option<Sp<String>>,
    /// Operators may write this tag: the lowest role allowed and the limits.
    pub write: Option<Sp<RawWrite>>,
}

/// A Modbus address as written: validation explains what is not a whole number (text such as
/// `00001` or `"40001"` may be a Modicon number written in the wrong place).
#[derive(Clone, Debug, PartialEq)]
pub enum RawAddress {
    /// A whole number (wider than the 64 bits YAML integers have, so every one is kept exactly).
    Int(i128),
    /// Text, including a number written with leading zeros (`00001`).
    Text(String),
    /// A number with a fraction or an exponent.
    Float(f64),
}

impl<'de> Deserialize<'de> for RawAddress {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = RawAddress;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a protocol (PDU) address 0..65535")
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawAddress, E> {
                Ok(RawAddress::Int(v.into()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawAddress, E> {
                Ok(RawAddress::Int(v.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<RawAddress, E> {
                Ok(RawAddress::Float(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawAddress, E> {
                Ok(RawAddress::Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawAddress {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Address".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "type": "integer",
            "minimum": 0,
            "maximum": 65535,
            "description": "A 0-based protocol (PDU) address; a Modicon number such as 40001 goes in `modicon:` as text"
        })
    }
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
    // Only counted and placed here: validation deserializes each panel node on its own, so one
    // bad panel does not hide the problems of the others.
    #[schemars(with = "Vec<RawPanel>")]
    pub panels: Vec<Sp<serde::de::IgnoredAny>>,
}

/// A panel: one key naming its kind.
#[derive(Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
#[schemars(rename = "Panel")]
pub enum RawPanel {
    /// A table of tags with value, units, quality and age.
    Grid(RawGrid),
    /// The alarm summary (`alarms: {}`); it fills its screen. A layout with alarms and no alarms panel gets a screen `Alarms` with one.
    Alarms(Option<RawAlarmsPanel>),
    /// Lines of 1 to 8 numeric tags (booleans drawn 0/1) over a time window.
    Trend(RawTrend),
    /// An analog indicator: the value of one numeric tag as a bar, with its normal band.
    Bar(RawBar),
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlarmsPanel")]
pub struct RawAlarmsPanel {
    pub title: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Grid")]
pub struct RawGrid {
    pub title: Option<String>,
    /// Tag names, in row order.
    pub tags: Vec<Sp<String>>,
    /// A small trend of each tag's recent values in a column of its own (default false).
    pub sparklines: Option<bool>,
}

/// `trend: { title, pens, window }`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Trend")]
pub struct RawTrend {
    pub title: Option<String>,
    /// 1 to 8 pens, each a tag name or `{ tag, range }`; no tag twice. Strings cannot be trended.
    #[schemars(required, length(min = 1, max = 8))]
    pub pens: Option<Sp<Vec<Sp<RawPen>>>>,
    /// The time shown at first: 1m to 24h and at most `history` (default 10m).
    pub window: Option<Sp<Dur>>,
}

/// A pen: a tag name, or a tag with a fixed y range.
#[derive(Debug)]
pub enum RawPen {
    Name(String),
    Settings(RawPenSettings),
}

/// `{ tag, range }`
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "PenSettings")]
pub struct RawPenSettings {
    /// The tag drawn.
    #[schemars(required)]
    pub tag: Option<Sp<String>>,
    /// A fixed y range `[low, high]` (default: scaled to the values shown).
    pub range: Option<Sp<[f64; 2]>>,
}

impl<'de> Deserialize<'de> for RawPen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawPen;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a tag name or `{ tag: NAME, range: [low, high] }`")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<RawPen, E> {
                Ok(RawPen::Name(v.to_string()))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<RawPen, A::Error> {
                RawPenSettings::deserialize(serde::de::value::MapAccessDeserializer::new(map)).map(RawPen::Settings)
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawPen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Pen".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let settings = generator.subschema_for::<RawPenSettings>();
        schemars::json_schema!({
            "oneOf": [
                { "type": "string", "description": "A tag name" },
                settings
            ]
        })
    }
}

/// `bar: { title, tag, range, normal }`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "Bar")]
pub struct RawBar {
    pub title: Option<String>,
    /// A numeric tag (not a boolean or a string).
    #[schemars(required)]
    pub tag: Option<Sp<String>>,
    /// The ends of the bar `[low, high]` (default: the `eu` range of the tag's scale; required without one).
    pub range: Option<Sp<[f64; 2]>>,
    /// The normal operating band `[low, high]`, inside the range.
    pub normal: Option<Sp<[f64; 2]>>,
}

/// `alarm_options:`
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlarmOptions")]
pub struct RawAlarmOptions {
    /// Priorities whose new alarms ring the terminal bell (default: all four; `[]`: never).
    pub bell: Option<Vec<Sp<RawPriority>>>,
    /// The longest an operator may shelve an alarm: more than 0, at most 168h (7 days); default 8h.
    pub max_shelve: Option<Sp<Dur>>,
}

/// The alarm rules of one tag, or the `comms` rule of one connection; each alarm is named `TAG.hi`, `CONN.comms`, …
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "AlarmRules")]
pub struct RawAlarmRules {
    /// Active above `limit`. Limits must go hihi > hi > lo > lolo. Numeric tags only.
    pub hihi: Option<RawLimitRule>,
    /// Active above `limit`.
    pub hi: Option<RawLimitRule>,
    /// Active below `limit`.
    pub lo: Option<RawLimitRule>,
    /// Active below `limit`.
    pub lolo: Option<RawLimitRule>,
    /// Active while a boolean or integer tag has the value `when`.
    pub discrete: Option<RawDiscreteRule>,
    /// Active while the value changes faster than `limit` per `per`.
    pub rate: Option<RawRateRule>,
    /// Active while the value differs from tag `from` by more than `limit`.
    pub deviation: Option<RawDeviationRule>,
    /// Active while the tag has Bad quality.
    pub bad_quality: Option<RawQualityRule>,
    /// Under a connection name: active while any tag of the connection has Bad quality.
    pub comms: Option<RawQualityRule>,
}

/// Declares an alarm rule: its own fields, then the fields every rule has (priority, message,
/// delays, suppression). serde's `flatten` would share them, but it cannot be combined with
/// `deny_unknown_fields`, which the did-you-mean errors rely on.
macro_rules! alarm_rule {
    ($(#[$meta:meta])* $name:ident $schema:literal { $($(#[$fmeta:meta])* $field:ident: $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Deserialize, JsonSchema)]
        #[serde(deny_unknown_fields)]
        #[schemars(rename = $schema)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
            /// critical, high, medium or low.
            #[schemars(required)]
            pub priority: Option<Sp<RawPriority>>,
            /// What the operator reads (default from the tag's description, e.g. "Outlet temperature high").
            pub message: Option<String>,
            /// How long the condition must hold before the alarm is raised (default 0).
            pub on_delay: Option<Sp<Dur>>,
            /// How long the condition must be gone before the alarm clears (default 0).
            pub off_delay: Option<Sp<Dur>>,
            /// Suppress the alarm while another tag has a value.
            pub suppress_when: Option<Sp<RawSuppress>>,
        }
    };
}

alarm_rule! {
    /// `hihi`, `hi`, `lo` or `lolo`.
    RawLimitRule "LimitRule" {
        /// The limit, in engineering units; a value exactly at the limit does not raise the alarm.
        limit: Sp<f64>,
        /// The value must come back past the limit by more than this to clear (≥ 0, default 0).
        deadband: Option<Sp<f64>>,
    }
}

alarm_rule! {
    /// `discrete`: a boolean or integer tag has a value.
    RawDiscreteRule "DiscreteRule" {
        /// `true`/`false` for a boolean tag; an integer or a list of integers for an integer tag.
        when: Sp<RawWhen>,
    }
}

alarm_rule! {
    /// `rate`: the value changes faster than `limit` per `per`, either way.
    RawRateRule "RateRule" {
        /// The time the change is measured over, e.g. 1s or 1m.
        per: Sp<Dur>,
        /// The largest normal change per `per` (more than 0).
        limit: Sp<f64>,
        /// The rate must fall below `limit - deadband` to clear (≥ 0, default 0).
        deadband: Option<Sp<f64>>,
    }
}

alarm_rule! {
    /// `deviation`: the value differs from another tag (a setpoint) by more than `limit`.
    RawDeviationRule "DeviationRule" {
        /// The numeric tag compared with, e.g. a setpoint.
        from: Sp<String>,
        /// The largest normal difference (more than 0).
        limit: Sp<f64>,
        /// The difference must fall below `limit - deadband` to clear (≥ 0, default 0).
        deadband: Option<Sp<f64>>,
    }
}

alarm_rule! {
    /// `bad_quality` (of a tag) or `comms` (of a connection).
    RawQualityRule "QualityRule" {}
}

/// Suppression by design: the alarm is suppressed while `tag` has the value `is`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(rename = "SuppressWhen")]
pub struct RawSuppress {
    /// A boolean or integer tag.
    pub tag: Sp<String>,
    /// `true`/`false` for a boolean tag; an integer or a list of integers for an integer tag.
    pub is: Sp<RawWhen>,
}

/// An alarm priority as written; validation checks the name.
#[derive(Debug)]
pub struct RawPriority(pub String);

impl<'de> Deserialize<'de> for RawPriority {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(RawPriority)
    }
}

impl JsonSchema for RawPriority {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Priority".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "enum": ["critical", "high", "medium", "low"] })
    }
}

/// The value a discrete rule or a suppression matches: a boolean, or one or more integers.
#[derive(Clone, Debug, PartialEq)]
pub enum RawWhen {
    Bool(bool),
    Ints(Vec<i64>),
}

impl<'de> Deserialize<'de> for RawWhen {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = RawWhen;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("true, false, an integer or a list of integers")
            }
            fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<RawWhen, E> {
                Ok(RawWhen::Bool(v))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<RawWhen, E> {
                Ok(RawWhen::Ints(vec![v]))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<RawWhen, E> {
                i64::try_from(v)
                    .map(|i| RawWhen::Ints(vec![i]))
                    .map_err(|_| E::custom(format!("integer {v} is out of range")))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawWhen, A::Error> {
                let mut ints = Vec::new();
                while let Some(i) = seq.next_element::<i64>()? {
                    ints.push(i);
                }
                Ok(RawWhen::Ints(ints))
            }
        }
        d.deserialize_any(V)
    }
}

impl JsonSchema for RawWhen {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "AlarmValue".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "true or false (a boolean tag), or an integer or a list of integers (an integer tag)",
            "oneOf": [
                { "type": "boolean" },
                { "type": "integer" },
                { "type": "array", "items": { "type": "integer" }, "minItems": 1 }
            ]
        })
    }
}
