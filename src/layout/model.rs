//! The validated, typed layout: what the rest of the program works with. Built only by
//! [`super::load`] / [`super::parse`], so every value here has passed validation.

use std::time::Duration;

use crate::tag::TagId;
use crate::tag::history::History;

#[derive(Clone, Debug, PartialEq)]
pub struct Layout {
    pub title: String,
    /// Indexed by [`ConnId`].
    pub connections: Vec<Connection>,
    /// Indexed by [`TagId`].
    pub tags: Vec<Tag>,
    pub screens: Vec<Screen>,
    /// Alarm rules, in layout order (tags and connections resolved; each with its stable key
    /// `TAG.hi`, `TAG.discrete`, `CONN.comms`, …).
    pub alarms: Vec<crate::alarm::Rule>,
    pub alarm_options: AlarmOptions,
    /// How long trend history is kept (`history:` or `history: { keep }`, default
    /// [`DEFAULT_HISTORY`]).
    pub history: Duration,
    /// The most memory the trend history may take, in bytes (`history: { budget }`, default
    /// [`DEFAULT_HISTORY_BUDGET`]). A layout whose [`Layout::history_worst_case_bytes`] is over it
    /// is refused.
    pub history_budget: u64,
    /// What the layout says that is probably not what was meant (a PDU address that looks like
    /// a Modicon number), in file order: `check` prints them, the console logs them. Each has
    /// [`super::Severity::Warning`].
    pub warnings: Vec<super::Diagnostic>,
    /// `publish:` — where `ttyhmi gateway` publishes this layout (Sparkplug B edge node).
    pub publish: Option<Publish>,
}

/// Trend history kept when the layout does not say.
pub const DEFAULT_HISTORY: Duration = Duration::from_secs(2 * 3600);

/// The most memory trend history may take when the layout does not say: 512 MiB, about 460
/// tags kept 2 h, or 19 tags kept 48 h.
pub const DEFAULT_HISTORY_BUDGET: u64 = 512 << 20;

/// `alarm_options:` — how alarms are annunciated and how long they may be shelved.
#[derive(Clone, Debug, PartialEq)]
pub struct AlarmOptions {
    /// Priorities whose new alarms ring the terminal bell (default: all).
    pub bell: Vec<crate::alarm::Priority>,
    /// The longest shelve (default 8 h).
    pub max_shelve: Duration,
}

impl Default for AlarmOptions {
    fn default() -> Self {
        AlarmOptions { bell: crate::alarm::Priority::ALL.to_vec(), max_shelve: crate::alarm::DEFAULT_MAX_SHELVE }
    }
}

impl Layout {
    /// The layout with every text it shows made safe for a terminal (control, bidi and invisible
    /// characters made visible, see [`crate::sanitize`]): a layout may come from `ttyhmi
    /// browse` of a hostile server, or from someone else. Names are already restricted to
    /// letters, digits, `_`, `-` and `.`.
    pub fn with_safe_texts(mut self) -> Layout {
        fn safe(s: &mut String) {
            if let std::borrow::Cow::Owned(c) = crate::sanitize::clean(s) {
                *s = c;
            }
        }
        safe(&mut self.title);
        for t in &mut self.tags {
            safe(&mut t.description);
            safe(&mut t.units);
            t.on_text.iter_mut().chain(t.off_text.iter_mut()).for_each(safe);
        }
        for s in &mut self.screens {
            safe(&mut s.title);
            for p in &mut s.panels {
                match p {
                    Panel::Grid(g) => g.title.iter_mut().for_each(safe),
                    Panel::Trend(t) => t.title.iter_mut().for_each(safe),
                    Panel::Bar(b) => b.title.iter_mut().for_each(safe),
                    Panel::Alarms(a) => a.title.iter_mut().for_each(safe),
                }
            }
        }
        for r in &mut self.alarms {
            safe(&mut r.message);
        }
        self
    }

    /// Tags whose history is kept: the pens of trends, the tags of bars, the tags of grids with
    /// sparklines. Sorted, without repeats.
    pub fn history_tags(&self) -> Vec<TagId> {
        let mut v: Vec<TagId> =
            self.screens.iter().flat_map(|s| s.panels.iter()).flat_map(Panel::history_tags).collect();
        v.sort();
        v.dedup();
        v
    }

    /// The most memory the history of [`Layout::history_tags`] can take, every series full.
    pub fn history_worst_case_bytes(&self) -> u64 {
        History::worst_case_bytes(self.history_tags().len(), self.history)
    }

    pub fn tag(&self, id: TagId) -> &Tag {
        &self.tags[id.index()]
    }

    pub fn tag_id(&self, name: &str) -> Option<TagId> {
        self.tags.iter().position(|t| t.name == name).map(|i| TagId(i as u32))
    }

    pub fn connection(&self, id: ConnId) -> &Connection {
        &self.connections[id.index()]
    }

    pub fn conn_id(&self, name: &str) -> Option<ConnId> {
        self.connections.iter().position(|c| c.name == name).map(|i| ConnId(i as u16))
    }

    /// Tags read through connection `id`.
    pub fn tags_of(&self, id: ConnId) -> impl Iterator<Item = (TagId, &Tag)> {
        self.tags.iter().enumerate().filter(move |(_, t)| t.conn == id).map(|(i, t)| (TagId(i as u32), t))
    }
}

/// Dense index of a connection in the layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub u16);

impl ConnId {
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Connection {
    pub name: String,
    pub kind: ConnectionKind,
    /// Every request must complete within this.
    pub timeout: Duration,
    /// Default poll period of the connection's tags.
    pub poll: Duration,
}

impl Connection {
    /// Where the connection goes, for people: `host:port` or the OPC UA endpoint URL.
    pub fn endpoint(&self) -> String {
        match &self.kind {
            ConnectionKind::Modbus(m) => m.endpoint(),
            ConnectionKind::OpcUa(u) => u.endpoint.clone(),
            ConnectionKind::Sparkplug(sp) => format!("{} {}/{}", sp.broker.endpoint(), sp.group, sp.node),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum ConnectionKind {
    Modbus(Modbus),
    OpcUa(OpcUaConn),
    /// A Sparkplug B edge node, read through an MQTT broker (this console is a host application).
    Sparkplug(SparkplugConn),
}

/// An MQTT broker and how to log in to it.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttBroker {
    pub host: String,
    pub port: u16,
    /// TLS (rustls), when the layout gives `tls:`.
    pub tls: Option<MqttTls>,
    /// `username:` with its password from a file or an environment variable (never the layout).
    pub login: Option<MqttLogin>,
}

impl MqttBroker {
    /// `mqtt://host:port` or `mqtts://host:port`.
    pub fn endpoint(&self) -> String {
        let scheme = if self.tls.is_some() { "mqtts" } else { "mqtt" };
        if self.host.contains(':') {
            format!("{scheme}://[{}]:{}", self.host, self.port)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// TLS to the broker: the CA that signs its certificate, and a client certificate if the broker
/// asks for one.
#[derive(Clone, Debug, PartialEq)]
pub struct MqttTls {
    pub ca: std::path::PathBuf,
    pub client_cert: Option<std::path::PathBuf>,
    pub client_key: Option<std::path::PathBuf>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MqttLogin {
    pub username: String,
    pub password: SecretSource,
}

/// `sparkplug:` — one edge node (and its devices) of a Sparkplug B group, read as a host
/// application named `host_id`.
#[derive(Clone, Debug, PartialEq)]
pub struct SparkplugConn {
    pub broker: MqttBroker,
    pub group: String,
    pub node: String,
    /// This console's Sparkplug host id (its STATE topic).
    pub host_id: String,
    /// How long a message that arrived out of order may wait for the ones before it.
    pub reorder_timeout: Duration,
    /// The least time between two rebirth requests to the node (jittered).
    pub rebirth_cooldown: Duration,
}

/// `publish:` — the Sparkplug B edge node `ttyhmi gateway` runs: each connection one device,
/// each tag one metric.
#[derive(Clone, Debug, PartialEq)]
pub struct Publish {
    pub broker: MqttBroker,
    pub group: String,
    pub node: String,
}

/// An OPC UA server.
#[derive(Clone, Debug, PartialEq)]
pub struct OpcUaConn {
    /// `opc.tcp://host:port[/path]`
    pub endpoint: String,
    pub security: UaSecurity,
    pub user: UaUser,
    /// Publishing interval of the connection's subscription.
    pub publishing_interval: Duration,
    /// The layout accepts a server certificate that does not name the endpoint's host (only
    /// with security; audited at start and shown in diagnostics).
    pub accept_host_name_mismatch: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UaSecurity {
    /// No signing, no encryption: only when the layout says `security: none`.
    None,
    Secure {
        policy: UaPolicy,
        mode: UaMode,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UaPolicy {
    Basic256Sha256,
    Aes128Sha256RsaOaep,
    Aes256Sha256RsaPss,
}

impl UaPolicy {
    /// The name used in layouts and by OPC UA (`Basic256Sha256`, `Aes128_Sha256_RsaOaep`, …).
    pub fn name(self) -> &'static str {
        match self {
            UaPolicy::Basic256Sha256 => "Basic256Sha256",
            UaPolicy::Aes128Sha256RsaOaep => "Aes128_Sha256_RsaOaep",
            UaPolicy::Aes256Sha256RsaPss => "Aes256_Sha256_RsaPss",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UaMode {
    Sign,
    SignAndEncrypt,
}

/// Who the console is to the server. Passwords never come from the layout itself.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UaUser {
    Anonymous,
    UserName { username: String, password: SecretSource },
    Certificate { cert: std::path::PathBuf, key: std::path::PathBuf },
}

/// Where a secret is read from, at connect time.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SecretSource {
    File(std::path::PathBuf),
    Env(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Modbus {
    /// How the device is reached.
    pub link: ModbusLink,
    /// Default unit id of the connection's tags.
    pub unit: u8,
    /// Default word/byte order of 32/64-bit values.
    pub byte_order: ByteOrder,
    /// Registers per read request, 1..=125.
    pub max_registers: u16,
    /// Coils or discrete inputs per read request, 1..=2000.
    pub max_bits: u16,
    /// Unused registers (or bits) bridged when coalescing neighbours into one request.
    pub max_gap: u16,
    /// Bits of holding registers are written with FC22 (mask write); when false, by reading the
    /// register and writing it back (another writer in between would be overwritten).
    pub mask_write: bool,
}

/// The way to a Modbus device, and how requests are framed on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ModbusLink {
    /// Modbus TCP: the MBAP header (transaction id, unit id).
    Tcp { host: String, port: u16 },
    /// RTU frames (unit id, PDU, CRC) over TCP, as serial-to-Ethernet gateways pass them through.
    RtuOverTcp { host: String, port: u16 },
    /// RTU frames on a serial line (RS-485/RS-232), several units sharing it.
    Serial(SerialLine),
}

/// A serial port and its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SerialLine {
    /// The device, e.g. `/dev/ttyUSB0`.
    pub port: std::path::PathBuf,
    pub baud: u32,
    pub parity: Parity,
    /// Always 8 (RTU); kept to count the bits of a character.
    pub data_bits: u8,
    /// 1 or 2.
    pub stop_bits: u8,
    /// Silence kept on the bus between the end of one exchange and the next request (at least
    /// the 3.5 character times the baud rate requires).
    pub turnaround: Duration,
}

impl SerialLine {
    /// Bits on the wire per character: start, data, parity, stop.
    pub fn bits_per_char(&self) -> u32 {
        1 + u32::from(self.data_bits) + u32::from(self.parity != Parity::None) + u32::from(self.stop_bits)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parity {
    None,
    Even,
    Odd,
}

impl Parity {
    pub fn name(self) -> &'static str {
        match self {
            Parity::None => "none",
            Parity::Even => "even",
            Parity::Odd => "odd",
        }
    }
}

impl ModbusLink {
    /// The TCP host and port; `None` for a serial line.
    pub fn host_port(&self) -> Option<(&str, u16)> {
        match self {
            ModbusLink::Tcp { host, port } | ModbusLink::RtuOverTcp { host, port } => Some((host, *port)),
            ModbusLink::Serial(_) => None,
        }
    }
}

impl Modbus {
    pub fn endpoint(&self) -> String {
        let prefix = match &self.link {
            ModbusLink::Tcp { .. } => "",
            ModbusLink::RtuOverTcp { .. } => "rtu-over-tcp ",
            ModbusLink::Serial(s) => {
                let p = s.parity.name().chars().next().unwrap_or('n').to_ascii_uppercase();
                return format!("rtu {} {}-{}{}{}", s.port.display(), s.baud, s.data_bits, p, s.stop_bits);
            }
        };
        match self.link.host_port() {
            Some((host, port)) if host.contains(':') => format!("{prefix}[{host}]:{port}"),
            Some((host, port)) => format!("{prefix}{host}:{port}"),
            None => String::new(),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Tag {
    pub name: String,
    pub description: String,
    pub units: String,
    /// Decimals shown for floating-point values.
    pub decimals: Option<u8>,
    pub conn: ConnId,
    /// Poll period of this tag (its own, or the connection's).
    pub poll: Duration,
    /// Text shown for a true / false boolean.
    pub on_text: Option<String>,
    pub off_text: Option<String>,
    pub source: TagSource,
    /// Present when the tag may be written, by whom and within which limits.
    pub write: Option<WriteSpec>,
}

/// Who may write a tag, and within which limits (engineering units).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct WriteSpec {
    pub role: crate::auth::Role,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub max_step: Option<f64>,
}

impl WriteSpec {
    /// Why `new` may not replace `old`, if it may not: outside the limits or too large a step.
    pub fn check(&self, old: Option<f64>, new: f64) -> Result<(), String> {
        if !new.is_finite() {
            return Err("not a finite number".into());
        }
        if let Some(min) = self.min
            && new < min
        {
            return Err(format!("{new} is below the minimum {min}"));
        }
        if let Some(max) = self.max
            && new > max
        {
            return Err(format!("{new} is above the maximum {max}"));
        }
        if let Some(step) = self.max_step {
            match old {
                None => return Err("the current value is unknown, so the step cannot be checked".into()),
                Some(o) if (new - o).abs() > step + step * 1e-9 => {
                    return Err(format!("a change of {} is more than the largest step {step}", (new - o).abs()));
                }
                Some(_) => {}
            }
        }
        Ok(())
    }
}

impl Tag {
    /// A Good value with no update for this long is shown Uncertain(stale): three poll periods,
    /// and never less than a second.
    pub fn stale_after(&self) -> Duration {
        if matches!(self.source, TagSource::Sparkplug(_)) {
            // Report by exception: a value holds until the node says otherwise (a death makes it
            // stale explicitly).
            return Duration::MAX;
        }
        self.poll.saturating_mul(3).max(Duration::from_secs(1))
    }

    /// A value formatted for this tag: decimals, on/off text.
    pub fn format(&self, value: &crate::tag::Value) -> String {
        match value {
            crate::tag::Value::Bool(true) => self.on_text.clone().unwrap_or_else(|| "ON".into()),
            crate::tag::Value::Bool(false) => self.off_text.clone().unwrap_or_else(|| "OFF".into()),
            v => v.display(self.decimals),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub enum TagSource {
    Modbus(ModbusPoint),
    OpcUa(UaPoint),
    Sparkplug(SpPoint),
}

/// A metric of a Sparkplug edge node: of the node itself (`device: None`) or of one device.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct SpPoint {
    pub device: Option<String>,
    pub metric: String,
}

impl std::fmt::Display for SpPoint {
    /// `Pump1/Level`, or `Counter` for a metric of the node itself.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.device {
            Some(d) => write!(f, "{d}/{}", self.metric),
            None => f.write_str(&self.metric),
        }
    }
}

/// A node of an OPC UA server, monitored through the connection's subscription.
#[derive(Clone, Debug, PartialEq)]
pub struct UaPoint {
    pub node: super::nodeid::NodeRef,
    /// Requested sampling interval (default: the publishing interval).
    pub sampling: Option<Duration>,
    pub deadband: Option<Deadband>,
    /// Requested monitored-item queue size (default 1: the latest value).
    pub queue_size: u32,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Deadband {
    Absolute(f64),
    /// Percent of the EURange.
    Percent(f64),
}

/// Where and how a tag lives in a Modbus device.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ModbusPoint {
    pub unit: u8,
    pub table: Table,
    /// 0-based protocol (PDU) address.
    pub address: u16,
    pub ty: DataType,
    /// Word/byte order; ignored for strings and single registers.
    pub order: ByteOrder,
    /// For a bool held in one bit (0..=15) of a register.
    pub bit: Option<u8>,
    pub scale: Option<Scale>,
}

impl ModbusPoint {
    /// Registers (or bits, for coils and discrete inputs) the point occupies.
    pub fn count(&self) -> u16 {
        if self.table.is_bits() { 1 } else { self.ty.registers() }
    }

    /// The classic Modicon reference: `40004` for holding 3 (six digits above 9999).
    pub fn modicon(&self) -> String {
        self.table.modicon(self.address)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Coil,
    Discrete,
    Input,
    Holding,
}

impl Table {
    pub fn is_bits(self) -> bool {
        matches!(self, Table::Coil | Table::Discrete)
    }

    pub fn name(self) -> &'static str {
        match self {
            Table::Coil => "coil",
            Table::Discrete => "discrete",
            Table::Input => "input",
            Table::Holding => "holding",
        }
    }

    /// The digit Modicon references of this table start with.
    pub fn modicon_digit(self) -> u8 {
        match self {
            Table::Coil => 0,
            Table::Discrete => 1,
            Table::Input => 3,
            Table::Holding => 4,
        }
    }

    /// The classic Modicon reference of PDU `address` in this table: `40004` for holding 3,
    /// six digits above 9999 (`410000` for holding 9999).
    pub fn modicon(self, address: u16) -> String {
        let (prefix, n) = (self.modicon_digit(), u32::from(address) + 1);
        if n <= 9999 { format!("{prefix}{n:04}") } else { format!("{prefix}{n:05}") }
    }
}

/// How register contents are interpreted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DataType {
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
    /// `chars` characters, two per register, high byte first.
    String {
        chars: u16,
    },
}

impl DataType {
    /// Registers one value occupies.
    pub fn registers(self) -> u16 {
        match self {
            DataType::Bool | DataType::U16 | DataType::I16 | DataType::Bcd16 => 1,
            DataType::U32 | DataType::I32 | DataType::F32 | DataType::Bcd32 => 2,
            DataType::U64 | DataType::I64 | DataType::F64 => 4,
            DataType::String { chars } => chars.div_ceil(2),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            DataType::Bool => "bool",
            DataType::U16 => "u16",
            DataType::I16 => "i16",
            DataType::U32 => "u32",
            DataType::I32 => "i32",
            DataType::U64 => "u64",
            DataType::I64 => "i64",
            DataType::F32 => "f32",
            DataType::F64 => "f64",
            DataType::Bcd16 => "bcd16",
            DataType::Bcd32 => "bcd32",
            DataType::String { .. } => "string",
        }
    }
}

/// Order of the bytes of a 32/64-bit value across registers, named by where the most
/// significant byte `A` lands: `ABCD` big-endian (Modbus default), `CDAB` word-swapped,
/// `BADC` byte-swapped, `DCBA` little-endian. For 64-bit values the same pattern extends over
/// four registers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum ByteOrder {
    #[default]
    Abcd,
    Cdab,
    Badc,
    Dcba,
}

impl ByteOrder {
    pub fn name(self) -> &'static str {
        match self {
            ByteOrder::Abcd => "ABCD",
            ByteOrder::Cdab => "CDAB",
            ByteOrder::Badc => "BADC",
            ByteOrder::Dcba => "DCBA",
        }
    }
}

/// Linear scaling between raw device values and engineering units.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Scale {
    pub raw: [f64; 2],
    pub eu: [f64; 2],
}

impl Scale {
    pub fn to_eu(&self, raw: f64) -> f64 {
        self.eu[0] + (raw - self.raw[0]) * (self.eu[1] - self.eu[0]) / (self.raw[1] - self.raw[0])
    }

    pub fn to_raw(&self, eu: f64) -> f64 {
        self.raw[0] + (eu - self.eu[0]) * (self.raw[1] - self.raw[0]) / (self.eu[1] - self.eu[0])
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Screen {
    pub title: String,
    pub panels: Vec<Panel>,
}

/// A panel of a screen. New kinds (trend, bar, alarms) are new variants.
#[derive(Clone, Debug, PartialEq)]
pub enum Panel {
    Grid(GridPanel),
    /// The alarm summary (`alarms: {}`): fills its screen.
    Alarms(AlarmsPanel),
    /// `trend: { title, pens, window }`.
    Trend(TrendPanel),
    /// `bar: { tag, range, normal }`: an analog indicator.
    Bar(BarPanel),
}

impl Panel {
    /// The tags whose history this panel shows: the pens of a trend, the tag of a bar, the tags
    /// of a grid with sparklines.
    pub fn history_tags(&self) -> Vec<TagId> {
        match self {
            Panel::Trend(t) => t.pens.iter().map(|p| p.tag).collect(),
            Panel::Bar(b) => vec![b.tag],
            Panel::Grid(g) if g.sparklines => g.tags.clone(),
            Panel::Grid(_) | Panel::Alarms(_) => Vec::new(),
        }
    }
}

/// A trend: pens over a time window ending now (or where the operator panned to).
#[derive(Clone, Debug, PartialEq)]
pub struct TrendPanel {
    pub title: Option<String>,
    pub pens: Vec<Pen>,
    /// The time shown at first (1m … 24h, at most the layout's `history`).
    pub window: Duration,
}

/// One line of a trend.
#[derive(Clone, Debug, PartialEq)]
pub struct Pen {
    pub tag: TagId,
    /// A fixed y range; `None`: scaled to the values shown.
    pub range: Option<(f64, f64)>,
}

/// An analog indicator: the value as a bar across `range`, the normal band marked.
#[derive(Clone, Debug, PartialEq)]
pub struct BarPanel {
    pub title: Option<String>,
    pub tag: TagId,
    /// The ends of the bar (`range:`, else the tag's scaled range).
    pub range: (f64, f64),
    /// The normal operating band (`normal: [lo, hi]`), inside `range`.
    pub normal: Option<(f64, f64)>,
}

#[derive(Clone, Debug, PartialEq, Default)]
pub struct AlarmsPanel {
    pub title: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct GridPanel {
    pub title: Option<String>,
    pub tags: Vec<TagId>,
    /// A small trend of each tag's recent values in a column of its own.
    pub sparklines: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scale_round_trips() {
        let s = Scale { raw: [0.0, 1000.0], eu: [0.0, 100.0] };
        assert_eq!(s.to_eu(500.0), 50.0);
        assert_eq!(s.to_raw(25.0), 250.0);
        let inv = Scale { raw: [4000.0, 20000.0], eu: [100.0, 0.0] };
        assert_eq!(inv.to_eu(4000.0), 100.0);
        assert_eq!(inv.to_raw(inv.to_eu(12345.0)), 12345.0);
    }

    #[test]
    fn modicon_forms() {
        let p = |table, address| ModbusPoint {
            unit: 1,
            table,
            address,
            ty: DataType::U16,
            order: ByteOrder::Abcd,
            bit: None,
            scale: None,
        };
        assert_eq!(p(Table::Holding, 3).modicon(), "40004");
        assert_eq!(p(Table::Input, 0).modicon(), "30001");
        assert_eq!(p(Table::Coil, 7).modicon(), "00008");
        assert_eq!(p(Table::Discrete, 1).modicon(), "10002");
        assert_eq!(p(Table::Holding, 9999).modicon(), "410000");
        assert_eq!(p(Table::Holding, 65535).modicon(), "465536");
    }

    #[test]
    fn register_counts() {
        assert_eq!(DataType::F64.registers(), 4);
        assert_eq!(DataType::String { chars: 20 }.registers(), 10);
        assert_eq!(DataType::String { chars: 5 }.registers(), 3);
    }
}
