//! The simulated plant's OPC UA server: a real async-opcua server over the same [`Device`] as the
//! Modbus server, so a write through either protocol changes the physics and shows on both.
//!
//! # Endpoints and users
//!
//! The server listens on `127.0.0.1` only (`opc.tcp://127.0.0.1:PORT/`, see
//! [`SimHandle::opcua_url`](super::SimHandle::opcua_url)) and offers:
//!
//! | security policy        | mode                 | user tokens                              |
//! |------------------------|----------------------|------------------------------------------|
//! | None                   | None                 | anonymous only                           |
//! | Basic256Sha256         | Sign, SignAndEncrypt | [`USERNAME`] / password only             |
//! | Aes128_Sha256_RsaOaep  | Sign, SignAndEncrypt | [`USERNAME`] / password only             |
//! | Aes256_Sha256_RsaPss   | Sign, SignAndEncrypt | [`USERNAME`] / password only             |
//!
//! The password is `SimOptions::opcua_password` ([`DEFAULT_PASSWORD`] unless set). A wrong
//! password, or an anonymous session on a secure endpoint, is refused with
//! `BadIdentityTokenRejected`. Every user may write the writable variables.
//!
//! # Certificates
//!
//! The server's own certificate and key are created on first start under `SimOptions::opcua_pki`
//! (`own/cert.der`, `private/private.pem`; [`SimHandle::opcua_certificate_path`]) and reused by
//! later starts with the same folder. This is a test device: it trusts **every** client
//! certificate automatically (they are stored under `trusted/`). Clients must trust the server's
//! certificate explicitly, e.g. by copying `own/cert.der` into their own trusted folder under the
//! name `CertificateStore::cert_file_name` gives it (the tests below do exactly that).
//!
//! # Address space
//!
//! Namespace [`NAMESPACE_URI`] (resolve its index through the server's NamespaceArray, or
//! [`SimHandle::opcua_namespace_index`]); all NodeIds are strings, `ns=<i>;s=<id>` with the ids
//! in [`node`]. Folders (FolderType, Organizes): `Objects` → `Plant` → `Boiler`, `Tank1`,
//! `Tank2`, `Pump1`, `Pump2`, `Test` (→ `Writable`), `Load`.
//!
//! Process variables (live: a Read returns the plant's value at that moment; subscriptions get
//! changes pushed every [`PUBLISH_PERIOD`]):
//!
//! | NodeId `s=`                      | type     | unit | EURange   | meaning                                 | access |
//! |----------------------------------|----------|------|-----------|-----------------------------------------|--------|
//! | `Plant.Name`                     | String   |      |           | `BOILER HOUSE SIM` (as holding 10..=19) | RO |
//! | `Plant.Clock`                    | DateTime |      |           | simulated time: server start + plant elapsed time | RO |
//! | `Plant.Counter`                  | UInt32   |      |           | physics step counter (as holding 100, wraps at 65535) | RO |
//! | `Plant.Boiler.Pressure`          | Double   | bar  | 0..=20    | header pressure                         | RO |
//! | `Plant.Boiler.Temperature`       | Double   | °C   | 0..=300   | outlet temperature                      | RO |
//! | `Plant.Boiler.FeedFlow`          | Double   | m³/h | 0..=500   | boiler feed flow                        | RO |
//! | `Plant.Boiler.BurnerOn`          | Boolean  |      |           | burner flame                            | RO |
//! | `Plant.Boiler.PressureSetpoint`  | Double   | bar  | 0..=16    | header pressure setpoint (as holding 30) | **RW** |
//! | `Plant.Boiler.TemperatureSetpoint` | Double | °C   | 0..=250   | outlet temperature setpoint (as holding 32) | **RW** |
//! | `Plant.Tank1.Level`, `Plant.Tank2.Level` | Double | % | 0..=100 | tank level                          | RO |
//! | `Plant.Pump1.Speed`, `Plant.Pump2.Speed` | Double | r/min | 0..=1500 | [`PUMP_NOMINAL_RPM`] while running, else 0 | RO |
//! | `Plant.Pump1.Running`, `Plant.Pump2.Running` | Boolean | |     | running feedback (as discrete 0, 1)     | RO |
//! | `Plant.Pump1.Fault`, `Plant.Pump2.Fault` | Boolean |   |         | latched pump fault (as discrete 6, 7)   | RO |
//! | `Plant.Pump1.Run`, `Plant.Pump2.Run` | Boolean |      |           | run command (as coils 0, 1)             | **RW** |
//!
//! Every Double above is an `AnalogItemType` with a Description and the standard
//! `EngineeringUnits` (EUInformation, UNECE codes: see [`units`]) and `EURange` (Range) properties,
//! reached by HasProperty references with NodeIds `<variable>.EngineeringUnits` and
//! `<variable>.EURange`.
//!
//! Writes are checked like a PLC would: the Variant must have exactly the variable's DataType
//! (else `BadTypeMismatch`; no conversions), a setpoint outside its EURange or not finite is
//! refused with `BadOutOfRange` and changes nothing, index ranges are refused
//! (`BadWriteNotSupported`), read-only variables answer `BadUserAccessDenied`.
//!
//! Fixed test values (`Plant.Test.*`, read-only, never change; values in [`test_values`]):
//!
//! | NodeId `s=`               | type             | value                                   |
//! |---------------------------|------------------|-----------------------------------------|
//! | `Plant.Test.Boolean`      | Boolean          | `true`                                  |
//! | `Plant.Test.SByte`        | SByte            | -100                                    |
//! | `Plant.Test.Byte`         | Byte             | 200                                     |
//! | `Plant.Test.Int16`        | Int16            | -1234                                   |
//! | `Plant.Test.UInt16`       | UInt16           | 4660 (0x1234)                           |
//! | `Plant.Test.Int32`        | Int32            | -123456789                              |
//! | `Plant.Test.UInt32`       | UInt32           | 305419896 (0x12345678)                  |
//! | `Plant.Test.Int64`        | Int64            | -1234567890123456789                    |
//! | `Plant.Test.UInt64`       | UInt64           | 81985529216486895 (0x0123456789ABCDEF)  |
//! | `Plant.Test.Float`        | Float            | -1234.5                                 |
//! | `Plant.Test.Double`       | Double           | 1234567.890625                          |
//! | `Plant.Test.String`       | String           | `Grüße, 世界` (non-ASCII on purpose)     |
//! | `Plant.Test.DateTime`     | DateTime         | 2024-01-02T03:04:05.678Z                |
//! | `Plant.Test.ByteString`   | ByteString       | `DE AD BE EF 00 FF`                     |
//! | `Plant.Test.DoubleArray`  | Double\[4\]      | `[0.0, -1.5, 3.25, 1e10]`               |
//! | `Plant.Test.Int32Array`   | Int32\[5\]       | `[0, 1, -1, 2147483647, -2147483648]`   |
//!
//! The numbers are the same as the Modbus test registers ([`registers::test_values`]).
//!
//! Writable test variables (`Plant.Test.Writable.*`, initially `false`, 0 or `""`; each keeps
//! what was last written): `Boolean`, `Int16`, `UInt16`, `Int32`, `UInt32`, `Float`, `Double`,
//! `String`, of those DataTypes.
//!
//! Load (`Plant.Load.*`): `SimOptions::opcua_load_items` Double variables `Plant.Load.V0000`,
//! `Plant.Load.V0001`, … ([`load_node_id`]) that all change every [`PUBLISH_PERIOD`] to
//! [`load_value`]`(i, tick)`, pushed to subscriptions: 1000 items = 10,000 notifications/s. Their
//! source timestamps are the scheduled tick times (exactly 100 ms apart), so a sampling interval
//! of 100 ms passes every change.
//!
//! [`registers::test_values`]: super::registers::test_values
//! [`SimHandle::opcua_certificate_path`]: super::SimHandle::opcua_certificate_path
//! [`SimHandle::opcua_namespace_index`]: super::SimHandle::opcua_namespace_index

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use opcua::crypto::SecurityPolicy;
use opcua::server::CreateMonitoredItem;
use opcua::server::address_space::{
    AccessLevel, AddressSpace, NodeType, ObjectBuilder, VariableBuilder, add_namespaces,
};
use opcua::server::diagnostics::NamespaceMetadata;
use opcua::server::node_manager::memory::{InMemoryNodeManager, InMemoryNodeManagerBuilder, InMemoryNodeManagerImpl};
use opcua::server::node_manager::{ParsedReadValueId, ParsedWriteValue, RequestContext, ServerContext, WriteNode};
use opcua::server::{ANONYMOUS_USER_TOKEN_ID, ServerBuilder, ServerHandle, ServerUserToken, SubscriptionCache};
use opcua::sync::RwLock;
use opcua::types::{
    AttributeId, BuildInfo, ByteString, DataTypeId, DataValue, DateTime, EUInformation, ExtensionObject, LocalizedText,
    MessageSecurityMode, NodeId, ObjectId, QualifiedName, Range, StatusCode, TimestampsToReturn, UAString,
    VariableTypeId, Variant, VariantScalarTypeId, VariantTypeId,
};
use tokio::task::JoinHandle;

use super::modbus_server::{self, Shared};
use super::plant::{self, PLANT_NAME};
use super::registers::Device;

/// Namespace of every simulator node.
pub const NAMESPACE_URI: &str = "urn:ttyhmi:sim";
/// The server's application URI (also in its certificate). Deliberately not [`NAMESPACE_URI`]:
/// async-opcua uses the application URI as the namespace of its own diagnostics nodes.
pub const APPLICATION_URI: &str = "urn:ttyhmi:sim:server";
/// The one user name accepted on the secure endpoints.
pub const USERNAME: &str = "operator";
/// `SimOptions::opcua_password` unless set: a demo password for a test device, not a secret.
pub const DEFAULT_PASSWORD: &str = "operator-demo";
/// How often the process and load variables are pushed to subscriptions.
pub const PUBLISH_PERIOD: Duration = Duration::from_millis(100);
/// `PumpN.Speed` while the pump runs (r/min).
pub const PUMP_NOMINAL_RPM: f64 = 1450.0;

/// String identifiers of the nodes (`ns=<index of NAMESPACE_URI>;s=<id>`).
pub mod node {
    pub const PLANT: &str = "Plant";
    pub const BOILER: &str = "Plant.Boiler";
    pub const TANK1: &str = "Plant.Tank1";
    pub const TANK2: &str = "Plant.Tank2";
    pub const PUMP1: &str = "Plant.Pump1";
    pub const PUMP2: &str = "Plant.Pump2";
    pub const TEST: &str = "Plant.Test";
    pub const WRITABLE: &str = "Plant.Test.Writable";
    pub const LOAD: &str = "Plant.Load";

    pub const NAME: &str = "Plant.Name";
    pub const CLOCK: &str = "Plant.Clock";
    pub const COUNTER: &str = "Plant.Counter";
    pub const PRESSURE: &str = "Plant.Boiler.Pressure";
    pub const TEMPERATURE: &str = "Plant.Boiler.Temperature";
    pub const FEED_FLOW: &str = "Plant.Boiler.FeedFlow";
    pub const BURNER_ON: &str = "Plant.Boiler.BurnerOn";
    pub const PRESSURE_SP: &str = "Plant.Boiler.PressureSetpoint";
    pub const TEMPERATURE_SP: &str = "Plant.Boiler.TemperatureSetpoint";
    pub const TANK1_LEVEL: &str = "Plant.Tank1.Level";
    pub const TANK2_LEVEL: &str = "Plant.Tank2.Level";
    pub const PUMP1_SPEED: &str = "Plant.Pump1.Speed";
    pub const PUMP1_RUNNING: &str = "Plant.Pump1.Running";
    pub const PUMP1_FAULT: &str = "Plant.Pump1.Fault";
    pub const PUMP1_RUN: &str = "Plant.Pump1.Run";
    pub const PUMP2_SPEED: &str = "Plant.Pump2.Speed";
    pub const PUMP2_RUNNING: &str = "Plant.Pump2.Running";
    pub const PUMP2_FAULT: &str = "Plant.Pump2.Fault";
    pub const PUMP2_RUN: &str = "Plant.Pump2.Run";

    /// Suffixes of the properties of every analog variable: `<variable>.EngineeringUnits`.
    pub const ENGINEERING_UNITS: &str = "EngineeringUnits";
    pub const EU_RANGE: &str = "EURange";

    pub const TEST_BOOLEAN: &str = "Plant.Test.Boolean";
    pub const TEST_SBYTE: &str = "Plant.Test.SByte";
    pub const TEST_BYTE: &str = "Plant.Test.Byte";
    pub const TEST_INT16: &str = "Plant.Test.Int16";
    pub const TEST_UINT16: &str = "Plant.Test.UInt16";
    pub const TEST_INT32: &str = "Plant.Test.Int32";
    pub const TEST_UINT32: &str = "Plant.Test.UInt32";
    pub const TEST_INT64: &str = "Plant.Test.Int64";
    pub const TEST_UINT64: &str = "Plant.Test.UInt64";
    pub const TEST_FLOAT: &str = "Plant.Test.Float";
    pub const TEST_DOUBLE: &str = "Plant.Test.Double";
    pub const TEST_STRING: &str = "Plant.Test.String";
    pub const TEST_DATETIME: &str = "Plant.Test.DateTime";
    pub const TEST_BYTESTRING: &str = "Plant.Test.ByteString";
    pub const TEST_DOUBLE_ARRAY: &str = "Plant.Test.DoubleArray";
    pub const TEST_INT32_ARRAY: &str = "Plant.Test.Int32Array";

    pub const WRITABLE_BOOLEAN: &str = "Plant.Test.Writable.Boolean";
    pub const WRITABLE_INT16: &str = "Plant.Test.Writable.Int16";
    pub const WRITABLE_UINT16: &str = "Plant.Test.Writable.UInt16";
    pub const WRITABLE_INT32: &str = "Plant.Test.Writable.Int32";
    pub const WRITABLE_UINT32: &str = "Plant.Test.Writable.UInt32";
    pub const WRITABLE_FLOAT: &str = "Plant.Test.Writable.Float";
    pub const WRITABLE_DOUBLE: &str = "Plant.Test.Writable.Double";
    pub const WRITABLE_STRING: &str = "Plant.Test.Writable.String";
}

/// Values of the fixed `Plant.Test.*` variables.
pub mod test_values {
    use crate::sim::registers::test_values as modbus;

    pub const BOOLEAN: bool = true;
    pub const SBYTE: i8 = -100;
    pub const BYTE: u8 = 200;
    pub const INT16: i16 = modbus::I16;
    pub const UINT16: u16 = modbus::U16;
    pub const INT32: i32 = modbus::I32;
    pub const UINT32: u32 = modbus::U32;
    pub const INT64: i64 = modbus::I64;
    pub const UINT64: u64 = modbus::U64;
    pub const FLOAT: f32 = modbus::F32;
    pub const DOUBLE: f64 = modbus::F64;
    /// Non-ASCII on purpose: OPC UA strings are UTF-8.
    pub const STRING: &str = "Grüße, 世界";
    /// 2024-01-02T03:04:05.678Z as OPC UA ticks (100 ns since 1601-01-01 UTC).
    pub const DATETIME_TICKS: i64 = 133_486_382_456_780_000;
    pub const DATETIME_RFC3339: &str = "2024-01-02T03:04:05.678Z";
    pub const BYTESTRING: &[u8] = &[0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF];
    pub const DOUBLE_ARRAY: [f64; 4] = [0.0, -1.5, 3.25, 1.0e10];
    pub const INT32_ARRAY: [i32; 5] = [0, 1, -1, i32::MAX, i32::MIN];
}

/// Engineering units (UNECE Recommendation 20, as OPC UA Part 8 prescribes for EUInformation).
pub mod units {
    /// `EUInformation.namespaceUri` of UNECE units.
    pub const UNECE_NAMESPACE: &str = "http://www.opcfoundation.org/UA/units/un/cefact";

    /// One unit: UNECE common code, display name (symbol) and description.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct Unit {
        pub code: &'static str,
        pub display_name: &'static str,
        pub description: &'static str,
    }

    impl Unit {
        /// `EUInformation.unitId`: the common code's ASCII bytes, big-endian (Part 8, 5.6.3).
        pub const fn unit_id(&self) -> i32 {
            let b = self.code.as_bytes();
            let mut id = 0i32;
            let mut i = 0;
            while i < b.len() {
                id = id << 8 | b[i] as i32;
                i += 1;
            }
            id
        }
    }

    pub const PERCENT: Unit = Unit { code: "P1", display_name: "%", description: "percent" };
    pub const BAR: Unit = Unit { code: "BAR", display_name: "bar", description: "bar [unit of pressure]" };
    pub const CELSIUS: Unit = Unit { code: "CEL", display_name: "°C", description: "degree Celsius" };
    pub const RPM: Unit = Unit { code: "RPM", display_name: "r/min", description: "revolutions per minute" };
    pub const M3_PER_HOUR: Unit = Unit { code: "MQH", display_name: "m³/h", description: "cubic metre per hour" };
}

/// NodeId string of load variable `i`: `Plant.Load.V0000`, `Plant.Load.V0001`, …
pub fn load_node_id(i: usize) -> String {
    format!("{}.V{i:04}", node::LOAD)
}

/// Value of load variable `i` at publish tick `tick` (ticks count [`PUBLISH_PERIOD`]s since the
/// server started): `tick + i / 10000`, so every variable changes at every tick.
pub fn load_value(i: usize, tick: u64) -> f64 {
    tick as f64 + i as f64 / 10_000.0
}

/// What a live variable shows (and, for the writable ones, what a write changes).
#[derive(Clone, Copy, Debug, PartialEq)]
enum Live {
    Name,
    Clock,
    Counter,
    Pressure,
    Temperature,
    FeedFlow,
    BurnerOn,
    PressureSp,
    TemperatureSp,
    Level(usize),
    Speed(usize),
    Running(usize),
    Fault(usize),
    Run(usize),
}

impl Live {
    fn value(self, d: &Device, clock_epoch: i64) -> Variant {
        let p = &d.plant;
        match self {
            Live::Name => Variant::from(PLANT_NAME),
            Live::Clock => {
                let ticks = i64::try_from(p.elapsed().as_nanos() / 100).unwrap_or(i64::MAX - clock_epoch);
                Variant::from(DateTime::from(clock_epoch.saturating_add(ticks)))
            }
            Live::Counter => Variant::from(u32::from(p.counter())),
            Live::Pressure => Variant::from(p.pressure()),
            Live::Temperature => Variant::from(p.temperature()),
            Live::FeedFlow => Variant::from(p.feed_flow_m3h()),
            Live::BurnerOn => Variant::from(p.burner_on()),
            Live::PressureSp => Variant::from(p.cmd.pressure_sp),
            Live::TemperatureSp => Variant::from(p.cmd.temperature_sp),
            Live::Level(t) => Variant::from(p.level(t)),
            Live::Speed(i) => Variant::from(if p.pump_running(i) { PUMP_NOMINAL_RPM } else { 0.0 }),
            Live::Running(i) => Variant::from(p.pump_running(i)),
            Live::Fault(i) => Variant::from(p.pump_fault(i)),
            Live::Run(i) => Variant::from(p.cmd.pump_run[i]),
        }
    }

    /// Applies a write of `v` (already checked to be of the variable's DataType).
    fn write(self, d: &mut Device, v: &Variant) -> Result<(), StatusCode> {
        let in_range = |x: f64, (lo, hi): (f64, f64)| {
            if x.is_finite() && (lo..=hi).contains(&x) { Ok(x) } else { Err(StatusCode::BadOutOfRange) }
        };
        let c = &mut d.plant.cmd;
        match (self, v) {
            (Live::PressureSp, Variant::Double(x)) => c.pressure_sp = in_range(*x, plant::PRESSURE_SP_RANGE)?,
            (Live::TemperatureSp, Variant::Double(x)) => c.temperature_sp = in_range(*x, plant::TEMPERATURE_SP_RANGE)?,
            (Live::Run(i), Variant::Boolean(b)) => c.pump_run[i] = *b,
            _ => return Err(StatusCode::BadNotWritable),
        }
        Ok(())
    }
}

/// The node manager behind namespace [`NAMESPACE_URI`].
struct SimNodes {
    shared: Arc<Shared>,
    namespace: NamespaceMetadata,
    /// Live variables in a fixed order (the publisher pushes them in this order).
    live: Vec<(NodeId, Live)>,
    live_index: HashMap<NodeId, Live>,
    /// Writable variables and the one Variant type each accepts.
    writable: HashMap<NodeId, VariantScalarTypeId>,
    load: Vec<NodeId>,
    /// `Plant.Clock` at plant time zero (OPC UA ticks).
    clock_epoch: i64,
}

type SimNodeManager = InMemoryNodeManager<SimNodes>;

/// A value with the timestamps the client asked for.
fn stamped(value: Variant, status: StatusCode, ttr: TimestampsToReturn) -> DataValue {
    let now = DateTime::now();
    let source = matches!(ttr, TimestampsToReturn::Source | TimestampsToReturn::Both);
    let server = matches!(ttr, TimestampsToReturn::Server | TimestampsToReturn::Both);
    DataValue {
        value: Some(value),
        status: Some(status),
        source_timestamp: source.then_some(now),
        server_timestamp: server.then_some(now),
        ..DataValue::default()
    }
}

fn status_only(status: StatusCode) -> DataValue {
    DataValue { status: Some(status), ..DataValue::default() }
}

#[async_trait]
impl InMemoryNodeManagerImpl for SimNodes {
    async fn init(&self, _address_space: &mut AddressSpace, _context: ServerContext) {}

    fn name(&self) -> &str {
        "ttyhmi-sim"
    }

    fn namespaces(&self) -> Vec<NamespaceMetadata> {
        vec![self.namespace.clone()]
    }

    /// Like async-opcua's default, but an item on a node that does not exist (or an attribute
    /// it lacks) is refused with that status, as the spec says, instead of created Good.
    async fn create_value_monitored_items(
        &self,
        context: &RequestContext,
        address_space: &RwLock<AddressSpace>,
        items: &mut [&mut &mut CreateMonitoredItem],
    ) {
        let to_read: Vec<_> = items.iter().map(|r| r.item_to_monitor()).collect();
        let values = self.read_values(context, address_space, &to_read, 0.0, TimestampsToReturn::Both).await;
        for (value, node) in values.into_iter().zip(items.iter_mut()) {
            let status = value.status();
            if matches!(status, StatusCode::BadNodeIdUnknown | StatusCode::BadAttributeIdInvalid) {
                node.set_status(status);
                continue;
            }
            node.set_initial_value(value);
            node.set_status(StatusCode::Good);
        }
    }

    /// Live variables read the device now; everything else reads the address space.
    async fn read_values(
        &self,
        context: &RequestContext,
        address_space: &RwLock<AddressSpace>,
        nodes: &[&ParsedReadValueId],
        max_age: f64,
        timestamps_to_return: TimestampsToReturn,
    ) -> Vec<DataValue> {
        let space = address_space.read();
        let mut device = None;
        let mut out = Vec::with_capacity(nodes.len());
        for n in nodes {
            let live = self.live_index.get(&n.node_id).filter(|_| n.attribute_id == AttributeId::Value);
            let Some(live) = live else {
                out.push(space.read(context, n, max_age, timestamps_to_return));
                continue;
            };
            if let Err(e) = space.validate_node_read(context, n) {
                out.push(status_only(e));
                continue;
            }
            let d = device.get_or_insert_with(|| self.shared.device());
            let value = live.value(d, self.clock_epoch);
            out.push(if n.index_range.has_range() {
                match value.range_of(&n.index_range) {
                    Ok(v) => stamped(v, StatusCode::Good, timestamps_to_return),
                    Err(e) => status_only(e),
                }
            } else {
                stamped(value, StatusCode::Good, timestamps_to_return)
            });
        }
        out
    }

    async fn write(
        &self,
        context: &RequestContext,
        address_space: &RwLock<AddressSpace>,
        nodes_to_write: &mut [&mut WriteNode],
    ) -> Result<(), StatusCode> {
        let mut written = Vec::new();
        {
            let mut space = address_space.write();
            let type_tree = context.type_tree.read();
            for w in nodes_to_write.iter_mut() {
                match self.write_one(context, &mut space, &*type_tree, w.value()) {
                    Ok(dv) => {
                        w.set_status(StatusCode::Good);
                        written.push((w.value().node_id.clone(), dv));
                    }
                    Err(e) => w.set_status(e),
                }
            }
        }
        context.subscriptions.notify_data_change(written.iter().map(|(id, dv)| (dv.clone(), id, AttributeId::Value)));
        Ok(())
    }
}

impl SimNodes {
    /// One Write: checks, applies to the device (live variables), stores the value in the node
    /// and returns it for the subscriptions.
    fn write_one(
        &self,
        context: &RequestContext,
        space: &mut AddressSpace,
        type_tree: &dyn opcua::server::address_space::TypeTree,
        wv: &ParsedWriteValue,
    ) -> Result<DataValue, StatusCode> {
        // Access level (read-only → BadUserAccessDenied), attribute write mask, value present.
        let node = space.validate_node_write(context, wv, type_tree)?;
        let NodeType::Variable(var) = node else { return Err(StatusCode::BadNotWritable) };
        if wv.attribute_id != AttributeId::Value {
            return Err(StatusCode::BadNotWritable);
        }
        if wv.index_range.has_range() {
            return Err(StatusCode::BadWriteNotSupported);
        }
        let expected = self.writable.get(&wv.node_id).ok_or(StatusCode::BadNotWritable)?;
        let value = wv.value.value.as_ref().ok_or(StatusCode::BadTypeMismatch)?;
        // async-opcua's own check lets any scalar through to a node of another type; a PLC does not.
        if !matches!(value.type_id(), VariantTypeId::Scalar(t) if t == *expected) {
            return Err(StatusCode::BadTypeMismatch);
        }
        if let Some(live) = self.live_index.get(&wv.node_id) {
            live.write(&mut self.shared.device(), value)?;
        }
        let now = DateTime::now();
        var.set_value_direct(value.clone(), StatusCode::Good, &now, &now)?;
        Ok(DataValue {
            value: Some(value.clone()),
            status: Some(StatusCode::Good),
            source_timestamp: Some(now),
            server_timestamp: Some(now),
            ..DataValue::default()
        })
    }
}

/// Builds the address space (in the node manager's builder, where the namespace index is known).
struct SpaceBuilder<'a> {
    space: &'a mut AddressSpace,
    ns: u16,
    nodes: SimNodes,
}

/// An analog variable's metadata.
struct Analog {
    id: &'static str,
    description: &'static str,
    unit: units::Unit,
    range: (f64, f64),
    live: Live,
    writable: bool,
}

impl SpaceBuilder<'_> {
    fn id(&self, s: &str) -> NodeId {
        NodeId::new(self.ns, s.to_owned())
    }

    /// The last dotted component of a node id string: its browse and display name.
    fn leaf(s: &str) -> &str {
        s.rsplit('.').next().unwrap_or(s)
    }

    fn folder(&mut self, id: &str, parent: &NodeId) -> NodeId {
        let node_id = self.id(id);
        let name = Self::leaf(id);
        ObjectBuilder::new(&node_id, QualifiedName::new(self.ns, name), name)
            .is_folder()
            .organized_by(parent.clone())
            .insert(self.space);
        node_id
    }

    /// A variable organized by `parent`, readable, writable if it is in `self.nodes.writable`.
    #[allow(clippy::too_many_arguments)]
    fn variable(
        &mut self,
        id: &str,
        parent: &NodeId,
        data_type: DataTypeId,
        value: Variant,
        description: &str,
        type_definition: VariableTypeId,
        writable: Option<VariantScalarTypeId>,
    ) -> NodeId {
        let node_id = self.id(id);
        let name = Self::leaf(id);
        let mut b = VariableBuilder::new(&node_id, QualifiedName::new(self.ns, name), name)
            .description(description)
            .data_type(data_type)
            .value(value.clone())
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ)
            .minimum_sampling_interval(PUBLISH_PERIOD.as_millis() as f64)
            .organized_by(parent.clone())
            .has_type_definition(type_definition);
        if let Variant::Array(a) = &value {
            b = b.value_rank(1).array_dimensions(&[a.values.len() as u32]);
        }
        if let Some(t) = writable {
            b = b.writable();
            self.nodes.writable.insert(node_id.clone(), t);
        }
        b.insert(self.space);
        node_id
    }

    fn property(&mut self, of: &NodeId, of_id: &str, name: &str, data_type: DataTypeId, value: ExtensionObject) {
        let node_id = self.id(&format!("{of_id}.{name}"));
        VariableBuilder::new(&node_id, QualifiedName::new(0, name), name)
            .data_type(data_type)
            .value(value)
            .access_level(AccessLevel::CURRENT_READ)
            .user_access_level(AccessLevel::CURRENT_READ)
            .property_of(of.clone())
            .has_type_definition(VariableTypeId::PropertyType)
            .insert(self.space);
    }

    fn live(&mut self, node_id: NodeId, live: Live) {
        self.nodes.live_index.insert(node_id.clone(), live);
        self.nodes.live.push((node_id, live));
    }

    fn analog(&mut self, parent: &NodeId, a: Analog) {
        let value = a.live.value(&self.nodes.shared.device(), self.nodes.clock_epoch);
        let writable = a.writable.then_some(VariantScalarTypeId::Double);
        let node_id = self.variable(
            a.id,
            parent,
            DataTypeId::Double,
            value,
            a.description,
            VariableTypeId::AnalogItemType,
            writable,
        );
        let eu = EUInformation {
            namespace_uri: UAString::from(units::UNECE_NAMESPACE),
            unit_id: a.unit.unit_id(),
            display_name: LocalizedText::new("", a.unit.display_name),
            description: LocalizedText::new("", a.unit.description),
        };
        self.property(
            &node_id,
            a.id,
            node::ENGINEERING_UNITS,
            DataTypeId::EUInformation,
            ExtensionObject::from_message(eu),
        );
        let range = Range { low: a.range.0, high: a.range.1 };
        self.property(&node_id, a.id, node::EU_RANGE, DataTypeId::Range, ExtensionObject::from_message(range));
        self.live(node_id, a.live);
    }

    /// A live Boolean/String/DateTime/UInt32 variable.
    fn discrete(&mut self, id: &str, parent: &NodeId, data_type: DataTypeId, live: Live, description: &str) {
        let value = live.value(&self.nodes.shared.device(), self.nodes.clock_epoch);
        let writable = matches!(live, Live::Run(_)).then_some(VariantScalarTypeId::Boolean);
        let node_id =
            self.variable(id, parent, data_type, value, description, VariableTypeId::BaseDataVariableType, writable);
        self.live(node_id, live);
    }

    fn build(mut self, load_items: usize) -> SimNodes {
        let f = self.folders();
        self.plant_variables(&f.plant);
        self.boiler(&f.boiler);
        self.tanks(&f.tanks);
        self.pumps(&f.pumps);
        self.fixed_test_values(&f.test);
        self.writable_test_values(&f.writable);
        self.load(&f.load, load_items);
        self.nodes
    }

    /// Every folder, `Plant` under `Objects` and the rest under it.
    fn folders(&mut self) -> Folders {
        let objects: NodeId = ObjectId::ObjectsFolder.into();
        let plant = self.folder(node::PLANT, &objects);
        let boiler = self.folder(node::BOILER, &plant);
        let tanks = [self.folder(node::TANK1, &plant), self.folder(node::TANK2, &plant)];
        let pumps = [self.folder(node::PUMP1, &plant), self.folder(node::PUMP2, &plant)];
        let test = self.folder(node::TEST, &plant);
        let writable = self.folder(node::WRITABLE, &test);
        let load = self.folder(node::LOAD, &plant);
        Folders { plant, boiler, tanks, pumps, test, writable, load }
    }

    /// `Plant.Name`, `Plant.Clock`, `Plant.Counter`.
    fn plant_variables(&mut self, plant: &NodeId) {
        self.discrete(node::NAME, plant, DataTypeId::String, Live::Name, "Plant name, as the PLC reports it");
        self.discrete(node::CLOCK, plant, DataTypeId::DateTime, Live::Clock, "Simulated plant time");
        self.discrete(node::COUNTER, plant, DataTypeId::UInt32, Live::Counter, "Physics step counter (wraps at 65535)");
    }

    /// `Plant.Boiler.*`: pressure, temperature, feed flow, their setpoints, burner flame.
    fn boiler(&mut self, boiler: &NodeId) {
        let boiler_vars = [
            Analog {
                id: node::PRESSURE,
                description: "Header pressure",
                unit: units::BAR,
                range: (0.0, 20.0),
                live: Live::Pressure,
                writable: false,
            },
            Analog {
                id: node::TEMPERATURE,
                description: "Boiler outlet temperature",
                unit: units::CELSIUS,
                range: (0.0, 300.0),
                live: Live::Temperature,
                writable: false,
            },
            Analog {
                id: node::FEED_FLOW,
                description: "Boiler feed flow",
                unit: units::M3_PER_HOUR,
                range: (0.0, 500.0),
                live: Live::FeedFlow,
                writable: false,
            },
            Analog {
                id: node::PRESSURE_SP,
                description: "Header pressure setpoint",
                unit: units::BAR,
                range: plant::PRESSURE_SP_RANGE,
                live: Live::PressureSp,
                writable: true,
            },
            Analog {
                id: node::TEMPERATURE_SP,
                description: "Boiler outlet temperature setpoint",
                unit: units::CELSIUS,
                range: plant::TEMPERATURE_SP_RANGE,
                live: Live::TemperatureSp,
                writable: true,
            },
        ];
        for a in boiler_vars {
            self.analog(boiler, a);
        }
        self.discrete(node::BURNER_ON, boiler, DataTypeId::Boolean, Live::BurnerOn, "Burner flame on");
    }

    /// `Plant.Tank1.Level`, `Plant.Tank2.Level`.
    fn tanks(&mut self, tanks: &[NodeId; 2]) {
        for (i, (tank, level)) in tanks.iter().zip([node::TANK1_LEVEL, node::TANK2_LEVEL]).enumerate() {
            let description = ["Tank 1 level", "Tank 2 level"][i];
            let a = Analog {
                id: level,
                description,
                unit: units::PERCENT,
                range: (0.0, 100.0),
                live: Live::Level(i),
                writable: false,
            };
            self.analog(tank, a);
        }
    }

    /// `Plant.Pump1.*`, `Plant.Pump2.*`: speed, running feedback, fault, run command.
    fn pumps(&mut self, pumps: &[NodeId; 2]) {
        let pump_ids = [
            [node::PUMP1_SPEED, node::PUMP1_RUNNING, node::PUMP1_FAULT, node::PUMP1_RUN],
            [node::PUMP2_SPEED, node::PUMP2_RUNNING, node::PUMP2_FAULT, node::PUMP2_RUN],
        ];
        for (i, (pump, [speed, running, fault, run])) in pumps.iter().zip(pump_ids).enumerate() {
            let description = ["Pump 1 speed", "Pump 2 speed"][i];
            let a = Analog {
                id: speed,
                description,
                unit: units::RPM,
                range: (0.0, 1500.0),
                live: Live::Speed(i),
                writable: false,
            };
            self.analog(pump, a);
            self.discrete(running, pump, DataTypeId::Boolean, Live::Running(i), "Running feedback");
            self.discrete(fault, pump, DataTypeId::Boolean, Live::Fault(i), "Pump fault (latched until fault reset)");
            self.discrete(run, pump, DataTypeId::Boolean, Live::Run(i), "Run command");
        }
    }

    /// `Plant.Test.*`: one read-only variable per [`test_values`] constant.
    fn fixed_test_values(&mut self, test: &NodeId) {
        use VariableTypeId::BaseDataVariableType as Base;
        use test_values as t;
        let fixed: [(&str, DataTypeId, Variant); 16] = [
            (node::TEST_BOOLEAN, DataTypeId::Boolean, t::BOOLEAN.into()),
            (node::TEST_SBYTE, DataTypeId::SByte, t::SBYTE.into()),
            (node::TEST_BYTE, DataTypeId::Byte, t::BYTE.into()),
            (node::TEST_INT16, DataTypeId::Int16, t::INT16.into()),
            (node::TEST_UINT16, DataTypeId::UInt16, t::UINT16.into()),
            (node::TEST_INT32, DataTypeId::Int32, t::INT32.into()),
            (node::TEST_UINT32, DataTypeId::UInt32, t::UINT32.into()),
            (node::TEST_INT64, DataTypeId::Int64, t::INT64.into()),
            (node::TEST_UINT64, DataTypeId::UInt64, t::UINT64.into()),
            (node::TEST_FLOAT, DataTypeId::Float, t::FLOAT.into()),
            (node::TEST_DOUBLE, DataTypeId::Double, t::DOUBLE.into()),
            (node::TEST_STRING, DataTypeId::String, t::STRING.into()),
            (node::TEST_DATETIME, DataTypeId::DateTime, DateTime::from(t::DATETIME_TICKS).into()),
            (node::TEST_BYTESTRING, DataTypeId::ByteString, ByteString::from(t::BYTESTRING.to_vec()).into()),
            (node::TEST_DOUBLE_ARRAY, DataTypeId::Double, t::DOUBLE_ARRAY.to_vec().into()),
            (node::TEST_INT32_ARRAY, DataTypeId::Int32, t::INT32_ARRAY.to_vec().into()),
        ];
        for (id, data_type, value) in fixed {
            self.variable(id, test, data_type, value, "Fixed test value", Base, None);
        }
    }

    /// `Plant.Test.Writable.*`: one variable per DataType a test writes, initially zero, `false`
    /// or empty.
    fn writable_test_values(&mut self, writable: &NodeId) {
        use VariableTypeId::BaseDataVariableType as Base;
        use VariantScalarTypeId as S;
        let writables: [(&str, DataTypeId, Variant, S); 8] = [
            (node::WRITABLE_BOOLEAN, DataTypeId::Boolean, false.into(), S::Boolean),
            (node::WRITABLE_INT16, DataTypeId::Int16, 0i16.into(), S::Int16),
            (node::WRITABLE_UINT16, DataTypeId::UInt16, 0u16.into(), S::UInt16),
            (node::WRITABLE_INT32, DataTypeId::Int32, 0i32.into(), S::Int32),
            (node::WRITABLE_UINT32, DataTypeId::UInt32, 0u32.into(), S::UInt32),
            (node::WRITABLE_FLOAT, DataTypeId::Float, 0f32.into(), S::Float),
            (node::WRITABLE_DOUBLE, DataTypeId::Double, 0f64.into(), S::Double),
            (node::WRITABLE_STRING, DataTypeId::String, "".into(), S::String),
        ];
        for (id, data_type, value, s) in writables {
            self.variable(id, writable, data_type, value, "Writable test value", Base, Some(s));
        }
    }

    /// `Plant.Load.V0000` … : `load_items` Double variables the publisher changes every period.
    fn load(&mut self, load: &NodeId, load_items: usize) {
        use VariableTypeId::BaseDataVariableType as Base;
        for i in 0..load_items {
            let id = load_node_id(i);
            let node_id =
                self.variable(&id, load, DataTypeId::Double, load_value(i, 0).into(), "Load test value", Base, None);
            self.nodes.load.push(node_id);
        }
    }
}

/// The folders of the address space, made by [`SpaceBuilder::folders`].
struct Folders {
    plant: NodeId,
    boiler: NodeId,
    tanks: [NodeId; 2],
    pumps: [NodeId; 2],
    test: NodeId,
    writable: NodeId,
    load: NodeId,
}

/// Options of the OPC UA server (from `SimOptions`).
pub(crate) struct Config<'a> {
    pub port: u16,
    pub load_items: usize,
    pub password: &'a str,
    pub pki: &'a Path,
}

/// Serialises certificate creation: two simulators starting at once on the same PKI folder would
/// both create a key and one would fail to store it.
static PKI_LOCK: Mutex<()> = Mutex::new(());

/// A running OPC UA server and its publisher task.
pub(crate) struct OpcUaServer {
    pub addr: SocketAddr,
    pub namespace_index: u16,
    pub certificate_path: PathBuf,
    handle: ServerHandle,
    server: Option<JoinHandle<()>>,
    publisher: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for OpcUaServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpcUaServer")
            .field("addr", &self.addr)
            .field("namespace_index", &self.namespace_index)
            .field("certificate_path", &self.certificate_path)
            .finish_non_exhaustive()
    }
}

/// Endpoint ids, policies and modes: None, then Sign and SignAndEncrypt of each secure policy.
const SECURE_POLICIES: [(&str, SecurityPolicy); 3] = [
    ("basic256sha256", SecurityPolicy::Basic256Sha256),
    ("aes128_sha256_rsaoaep", SecurityPolicy::Aes128Sha256RsaOaep),
    ("aes256_sha256_rsapss", SecurityPolicy::Aes256Sha256RsaPss),
];

/// User token id of [`USERNAME`] in the server configuration.
const USER_TOKEN_ID: &str = "operator";

fn server_builder(cfg: &Config<'_>, host: &str, port: u16) -> ServerBuilder {
    let anonymous = [ANONYMOUS_USER_TOKEN_ID];
    let user = [USER_TOKEN_ID];
    let mut b = ServerBuilder::new()
        .application_name("ttyhmi simulated plant")
        .application_uri(APPLICATION_URI)
        .product_uri("urn:ttyhmi")
        .build_info(BuildInfo {
            product_uri: "urn:ttyhmi".into(),
            manufacturer_name: "ttyhmi".into(),
            product_name: "ttyhmi simulated plant".into(),
            software_version: env!("CARGO_PKG_VERSION").into(),
            build_number: "0".into(),
            build_date: DateTime::now(),
        })
        .host(host)
        .port(port)
        .discovery_urls(vec![format!("opc.tcp://{host}:{port}/")])
        .pki_dir(cfg.pki)
        .create_sample_keypair(true)
        // A test device: every client certificate is trusted (and stored under `trusted/`).
        .trust_client_certs(true)
        .add_user_token(USER_TOKEN_ID, ServerUserToken::user_pass(USERNAME, cfg.password))
        .add_endpoint("none", ("/", SecurityPolicy::None, MessageSecurityMode::None, &anonymous as &[&str]))
        // Large enough for 1000+ monitored items per publish and big reads.
        .max_array_length(100_000)
        .max_message_size(64 << 20)
        .max_chunk_count(1024);
    for (name, policy) in SECURE_POLICIES {
        for (suffix, mode) in
            [("sign", MessageSecurityMode::Sign), ("sign_encrypt", MessageSecurityMode::SignAndEncrypt)]
        {
            b = b.add_endpoint(format!("{name}_{suffix}"), ("/", policy, mode, &user as &[&str]));
        }
    }
    let limits = b.limits_mut();
    limits.subscriptions.max_monitored_items_per_sub = 0;
    limits.subscriptions.max_queued_notifications = 100;
    b
}

impl OpcUaServer {
    /// Binds `127.0.0.1:port` (0 = ephemeral) and starts the server and the publisher.
    pub(crate) async fn start(shared: Arc<Shared>, cfg: Config<'_>) -> std::io::Result<Self> {
        let listener = modbus_server::bind(SocketAddr::from(([127, 0, 0, 1], cfg.port)))?;
        let addr = listener.local_addr()?;
        let host = addr.ip().to_string();
        let clock_epoch = DateTime::now().ticks();
        let load_items = cfg.load_items;
        let nodes_shared = Arc::clone(&shared);
        let node_manager = InMemoryNodeManagerBuilder::new(move |context: ServerContext, space: &mut AddressSpace| {
            let ns = add_namespaces(&context, space, &[NAMESPACE_URI])[0];
            let nodes = SimNodes {
                shared: nodes_shared,
                namespace: NamespaceMetadata {
                    namespace_uri: NAMESPACE_URI.to_owned(),
                    namespace_index: ns,
                    is_namespace_subset: Some(false),
                    ..NamespaceMetadata::default()
                },
                live: Vec::new(),
                live_index: HashMap::new(),
                writable: HashMap::new(),
                load: Vec::with_capacity(load_items),
                clock_epoch,
            };
            SpaceBuilder { space, ns, nodes }.build(load_items)
        });
        let builder = server_builder(&cfg, &host, addr.port()).with_node_manager(node_manager);
        let certificate_path = cfg.pki.join("own").join("cert.der");
        let (server, handle) = {
            // Creates the certificate and key on first start (RSA key generation: once per folder).
            let _pki = PKI_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
            builder.build().map_err(std::io::Error::other)?
        };
        if !certificate_path.is_file() {
            return Err(std::io::Error::other(format!(
                "OPC UA server certificate missing: {} could not be created",
                certificate_path.display()
            )));
        }
        let nm = handle
            .node_managers()
            .get_of_type::<SimNodeManager>()
            .ok_or_else(|| std::io::Error::other("OPC UA node manager missing"))?;
        let namespace_index = nm.inner().namespace.namespace_index;
        let server = tokio::spawn(async move {
            if let Err(err) = server.run_with(listener).await {
                tracing::warn!(%err, "sim: OPC UA server stopped");
            }
        });
        let publisher = tokio::spawn(publish(nm, Arc::clone(handle.subscriptions()), shared));
        tracing::info!(%addr, "sim: OPC UA server started");
        Ok(OpcUaServer {
            addr,
            namespace_index,
            certificate_path,
            handle,
            server: Some(server),
            publisher: Some(publisher),
        })
    }

    /// Stops the server: every session's connection is closed (clients see `BadServerHalted` and
    /// the connection go away), then the listener is released.
    pub(crate) async fn stop(mut self) {
        if let Some(p) = self.publisher.take() {
            p.abort();
            let _ = p.await;
        }
        self.handle.cancel();
        if let Some(mut server) = self.server.take() {
            // The server closes its connections and returns; the bound only guards against a
            // connection that never finishes closing.
            if tokio::time::timeout(Duration::from_secs(5), &mut server).await.is_err() {
                server.abort();
                let _ = server.await;
            }
        }
        tracing::info!(addr = %self.addr, "sim: OPC UA server stopped");
    }
}

impl Drop for OpcUaServer {
    fn drop(&mut self) {
        self.handle.cancel();
        if let Some(p) = self.publisher.take() {
            p.abort();
        }
    }
}

/// Pushes the live and load variables into the address space (and so to subscriptions) every
/// [`PUBLISH_PERIOD`].
async fn publish(nm: Arc<SimNodeManager>, subscriptions: Arc<SubscriptionCache>, shared: Arc<Shared>) {
    let nodes = nm.inner();
    let period_ticks = i64::try_from(PUBLISH_PERIOD.as_nanos() / 100).unwrap_or(i64::MAX);
    let mut ticks = tokio::time::interval(PUBLISH_PERIOD);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let start = tokio::time::Instant::now();
    let start_ticks = DateTime::now().ticks();
    let mut values = Vec::with_capacity(nodes.live.len());
    loop {
        ticks.tick().await;
        // The scheduled tick, not the moment this task ran: source timestamps exactly one period
        // apart, so subscriptions sampling at that period never hold a change back.
        let n = (start.elapsed().as_secs_f64() / PUBLISH_PERIOD.as_secs_f64()).round() as u64;
        let source = DateTime::from(start_ticks.saturating_add(period_ticks.saturating_mul(n as i64)));
        let server = DateTime::now();
        values.clear();
        {
            let d = shared.device();
            values.extend(nodes.live.iter().map(|(_, live)| live.value(&d, nodes.clock_epoch)));
        }
        let dv = |v: Variant| DataValue {
            value: Some(v),
            status: Some(StatusCode::Good),
            source_timestamp: Some(source),
            server_timestamp: Some(server),
            ..DataValue::default()
        };
        let live = nodes.live.iter().zip(values.drain(..)).map(|((id, _), v)| (id, None, dv(v)));
        let load = nodes.load.iter().enumerate().map(|(i, id)| (id, None, dv(load_value(i, n).into())));
        if let Err(err) = nm.set_values(&subscriptions, live.chain(load)) {
            tracing::warn!(%err, "sim: OPC UA publish failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use opcua::client::{Client, ClientBuilder, DataChangeCallback, IdentityToken, Session};
    use opcua::crypto::CertificateStore;
    use opcua::types::{
        BrowseDescription, BrowseDirection, BrowseResultMask, MonitoredItemCreateRequest, MonitoringMode,
        MonitoringParameters, NodeClass, NodeClassMask, ReadValueId, ReferenceTypeId, WriteValue,
    };
    use tokio_modbus::client::{Reader, Writer, tcp};

    use super::*;
    use crate::sim::registers::{Order, addr, f32_words};
    use crate::sim::{SimHandle, SimOptions, start_with};

    const T: Duration = Duration::from_secs(5);

    fn loopback() -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], 0))
    }

    /// Frozen physics and a small load: fast to start, values move only when written.
    fn options() -> SimOptions {
        SimOptions { step: None, opcua_load_items: 50, ..SimOptions::default() }
    }

    /// Serialises client creation (the first one creates the key pair) and the trust copies.
    static CLIENT_LOCK: Mutex<()> = Mutex::new(());

    /// Copies `cert` into the trusted folder `dir` under the name the certificate store looks
    /// for, atomically (another test's store may be reading it).
    fn trust(cert: &Path, dir: &Path) {
        let parsed = CertificateStore::read_cert(cert).expect("certificate");
        let target = dir.join(CertificateStore::cert_file_name(&parsed));
        if !target.exists() {
            std::fs::create_dir_all(dir).unwrap();
            let tmp = dir.join(format!(".{}.tmp", std::process::id()));
            std::fs::copy(cert, &tmp).unwrap();
            std::fs::rename(&tmp, &target).unwrap();
        }
    }

    /// A client with its own PKI folder (shared by the tests of this process) that trusts the
    /// simulator's certificate explicitly (no trust-on-first-use), and whose certificate the
    /// simulator already trusts (it would anyway; pre-trusting avoids two servers sharing a PKI
    /// folder writing the same file at once).
    fn client(sim: &SimHandle) -> Client {
        let pki = std::env::temp_dir().join(format!("ttyhmi-sim-test-client-{}", std::process::id()));
        let _lock = CLIENT_LOCK.lock().unwrap_or_else(PoisonError::into_inner);
        let client = ClientBuilder::new()
            .application_name("ttyhmi sim test client")
            .application_uri("urn:ttyhmi:sim:test-client")
            .product_uri("urn:ttyhmi")
            .pki_dir(&pki)
            .create_sample_keypair(true)
            .trust_server_certs(false)
            .session_retry_limit(0)
            .max_array_length(100_000)
            .max_message_size(64 << 20)
            .max_chunk_count(1024)
            .client()
            .expect("client configuration");
        let server_cert = sim.opcua_certificate_path().expect("OPC UA runs");
        trust(&server_cert, &pki.join("trusted"));
        let server_pki = server_cert.parent().and_then(Path::parent).expect("<pki>/own/cert.der");
        trust(&pki.join("own").join("cert.der"), &server_pki.join("trusted"));
        client
    }

    struct Connected {
        _client: Client,
        session: Arc<Session>,
        event_loop: JoinHandle<StatusCode>,
    }

    async fn connect(
        sim: &SimHandle,
        policy: SecurityPolicy,
        mode: MessageSecurityMode,
        identity: IdentityToken,
    ) -> Result<Connected, StatusCode> {
        let mut client = client(sim);
        let url = sim.opcua_url().expect("OPC UA runs");
        let (session, event_loop) = client
            .connect_to_matching_endpoint((url.as_str(), policy.to_str(), mode), identity)
            .await
            .map_err(|e| e.status())?;
        let mut event_loop = event_loop.spawn();
        let failed = tokio::time::timeout(T, async {
            tokio::select! {
                _ = session.wait_for_connection() => None,
                code = &mut event_loop => Some(code.expect("event loop task")),
            }
        })
        .await
        .expect("connected or refused within 5 s");
        match failed {
            None => Ok(Connected { _client: client, session, event_loop }),
            Some(code) => Err(code),
        }
    }

    fn operator(password: &str) -> IdentityToken {
        IdentityToken::UserName(USERNAME.to_owned(), password.into())
    }

    fn rvid(ns: u16, id: &str, attribute: AttributeId) -> ReadValueId {
        ReadValueId { node_id: NodeId::new(ns, id), attribute_id: attribute as u32, ..ReadValueId::default() }
    }

    async fn read(session: &Session, ns: u16, ids: &[&str]) -> Vec<DataValue> {
        let nodes: Vec<_> = ids.iter().map(|id| rvid(ns, id, AttributeId::Value)).collect();
        let r = tokio::time::timeout(T, session.read(&nodes, TimestampsToReturn::Both, 0.0)).await;
        r.expect("read in time").expect("read")
    }

    async fn read_one(session: &Session, ns: u16, id: &str) -> Variant {
        let dv = read(session, ns, &[id]).await.remove(0);
        assert_eq!(dv.status(), StatusCode::Good, "{id}");
        dv.value.expect("a value")
    }

    async fn write(session: &Session, ns: u16, id: &str, value: impl Into<Variant>) -> StatusCode {
        let wv = WriteValue {
            node_id: NodeId::new(ns, id),
            attribute_id: AttributeId::Value as u32,
            value: DataValue { value: Some(value.into()), ..DataValue::default() },
            ..WriteValue::default()
        };
        tokio::time::timeout(T, session.write(&[wv])).await.expect("write in time").expect("write")[0]
    }

    async fn browse(
        session: &Session,
        node_id: NodeId,
        reference: ReferenceTypeId,
    ) -> Vec<(String, NodeId, NodeClass)> {
        let desc = BrowseDescription {
            node_id,
            browse_direction: BrowseDirection::Forward,
            reference_type_id: reference.into(),
            include_subtypes: true,
            node_class_mask: NodeClassMask::all().bits(),
            result_mask: BrowseResultMask::All as u32,
        };
        let r = tokio::time::timeout(T, session.browse(&[desc], 1000, None)).await.expect("in time").expect("browse");
        r[0].references
            .iter()
            .flatten()
            .map(|r| (r.browse_name.name.to_string(), r.node_id.node_id.clone(), r.node_class))
            .collect()
    }

    fn array(v: &Variant) -> Vec<Variant> {
        match v {
            Variant::Array(a) => a.values.clone(),
            other => panic!("not an array: {other:?}"),
        }
    }

    #[test]
    fn units_and_constants() {
        assert_eq!(units::PERCENT.unit_id(), 20529);
        assert_eq!(units::CELSIUS.unit_id(), 4_408_652);
        assert_eq!(units::BAR.unit_id(), 4_342_098);
        let dt = DateTime::from(test_values::DATETIME_TICKS);
        assert_eq!(dt.to_rfc3339(), test_values::DATETIME_RFC3339);
        assert_eq!(load_node_id(7), "Plant.Load.V0007");
        assert_eq!(load_value(49, 3), 3.0049);
    }

    #[tokio::test]
    async fn anonymous_on_none_reads_every_test_value() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        assert_eq!(sim.opcua_url(), Some(format!("opc.tcp://127.0.0.1:{}", sim.opcua_addr.unwrap().port())));
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous)
            .await
            .expect("anonymous session on the None endpoint");
        let namespaces = c.session.read_namespace_array().await.unwrap();
        assert_eq!(namespaces.get_index(NAMESPACE_URI), Some(ns), "nsu= resolves to the same index");

        use node as n;
        use test_values as t;
        let ids = [
            n::TEST_BOOLEAN,
            n::TEST_SBYTE,
            n::TEST_BYTE,
            n::TEST_INT16,
            n::TEST_UINT16,
            n::TEST_INT32,
            n::TEST_UINT32,
            n::TEST_INT64,
            n::TEST_UINT64,
            n::TEST_FLOAT,
            n::TEST_DOUBLE,
            n::TEST_STRING,
            n::TEST_DATETIME,
            n::TEST_BYTESTRING,
            n::TEST_DOUBLE_ARRAY,
            n::TEST_INT32_ARRAY,
        ];
        let got = read(&c.session, ns, &ids).await;
        assert!(got.iter().all(|dv| dv.status() == StatusCode::Good), "{got:?}");
        let v: Vec<Variant> = got.into_iter().map(|dv| dv.value.unwrap()).collect();
        assert_eq!(v[0], Variant::Boolean(t::BOOLEAN));
        assert_eq!(v[1], Variant::SByte(-100));
        assert_eq!(v[2], Variant::Byte(200));
        assert_eq!(v[3], Variant::Int16(-1234));
        assert_eq!(v[4], Variant::UInt16(0x1234));
        assert_eq!(v[5], Variant::Int32(-123_456_789));
        assert_eq!(v[6], Variant::UInt32(0x1234_5678));
        assert_eq!(v[7], Variant::Int64(-1_234_567_890_123_456_789));
        assert_eq!(v[8], Variant::UInt64(0x0123_4567_89AB_CDEF));
        assert_eq!(v[9], Variant::Float(-1234.5));
        assert_eq!(v[10], Variant::Double(1_234_567.890_625));
        assert_eq!(v[11], Variant::String("Grüße, 世界".into()));
        match &v[12] {
            Variant::DateTime(d) => assert_eq!(d.to_rfc3339(), "2024-01-02T03:04:05.678Z"),
            other => panic!("DateTime expected: {other:?}"),
        }
        assert_eq!(v[13], Variant::ByteString(ByteString::from(vec![0xDE, 0xAD, 0xBE, 0xEF, 0x00, 0xFF])));
        assert_eq!(array(&v[14]), t::DOUBLE_ARRAY.map(Variant::Double));
        assert_eq!(array(&v[15]), t::INT32_ARRAY.map(Variant::Int32));

        let live = read(&c.session, ns, &[n::NAME, n::COUNTER, n::CLOCK, n::PUMP1_SPEED, n::PUMP1_RUNNING]).await;
        assert_eq!(live[0].value, Some(Variant::String(PLANT_NAME.into())));
        assert_eq!(live[1].value, Some(Variant::UInt32(0)), "frozen physics");
        assert!(matches!(live[2].value, Some(Variant::DateTime(_))));
        assert_eq!(live[3].value, Some(Variant::Double(PUMP_NOMINAL_RPM)), "pump 1 starts running");
        assert_eq!(live[4].value, Some(Variant::Boolean(true)));
        c.session.disconnect().await.unwrap();
        sim.stop().await;
    }

    #[tokio::test]
    async fn secure_endpoints_take_the_operator_and_refuse_others() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        let (b256, sign_encrypt) = (SecurityPolicy::Basic256Sha256, MessageSecurityMode::SignAndEncrypt);
        let c = connect(&sim, b256, sign_encrypt, operator(DEFAULT_PASSWORD)).await.expect("operator session");
        assert_eq!(read_one(&c.session, ns, node::TEST_DOUBLE).await, Variant::Double(test_values::DOUBLE));
        assert_eq!(read_one(&c.session, ns, node::PRESSURE_SP).await, Variant::Double(8.0));
        c.session.disconnect().await.unwrap();

        let started = tokio::time::Instant::now();
        let wrong = connect(&sim, b256, sign_encrypt, operator("not-the-password")).await.err();
        assert_eq!(wrong, Some(StatusCode::BadIdentityTokenRejected), "wrong password");
        let anonymous = connect(&sim, b256, sign_encrypt, IdentityToken::Anonymous).await.err();
        assert!(anonymous.is_some_and(|s| s.is_bad()), "anonymous on a secure endpoint: {anonymous:?}");
        assert!(started.elapsed() < T, "refusals are quick: {:?}", started.elapsed());

        for (policy, mode) in [
            (SecurityPolicy::Aes256Sha256RsaPss, MessageSecurityMode::SignAndEncrypt),
            (SecurityPolicy::Aes128Sha256RsaOaep, MessageSecurityMode::Sign),
        ] {
            let c = connect(&sim, policy, mode, operator(DEFAULT_PASSWORD)).await.expect("operator session");
            assert_eq!(read_one(&c.session, ns, node::TEST_INT32).await, Variant::Int32(test_values::INT32));
            c.session.disconnect().await.unwrap();
        }
        sim.stop().await;
    }

    #[tokio::test]
    async fn tank1_level_has_engineering_units_and_range() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous).await.unwrap();
        let s = &c.session;
        let objects = browse(s, ObjectId::ObjectsFolder.into(), ReferenceTypeId::HierarchicalReferences).await;
        assert!(objects.contains(&("Plant".into(), NodeId::new(ns, node::PLANT), NodeClass::Object)), "{objects:?}");
        let plant = browse(s, NodeId::new(ns, node::PLANT), ReferenceTypeId::HierarchicalReferences).await;
        let names: Vec<&str> = plant.iter().map(|(n, _, _)| n.as_str()).collect();
        for folder in ["Boiler", "Tank1", "Tank2", "Pump1", "Pump2", "Test", "Load"] {
            assert!(names.contains(&folder), "{folder} in {names:?}");
        }
        let tank1 = browse(s, NodeId::new(ns, node::TANK1), ReferenceTypeId::HierarchicalReferences).await;
        assert_eq!(tank1, [("Level".into(), NodeId::new(ns, node::TANK1_LEVEL), NodeClass::Variable)]);
        let props = browse(s, NodeId::new(ns, node::TANK1_LEVEL), ReferenceTypeId::HasProperty).await;
        let eu_id = NodeId::new(ns, format!("{}.EngineeringUnits", node::TANK1_LEVEL));
        let range_id = NodeId::new(ns, format!("{}.EURange", node::TANK1_LEVEL));
        assert!(props.contains(&("EngineeringUnits".into(), eu_id.clone(), NodeClass::Variable)), "{props:?}");
        assert!(props.contains(&("EURange".into(), range_id.clone(), NodeClass::Variable)), "{props:?}");

        let nodes = [
            ReadValueId { node_id: eu_id, attribute_id: AttributeId::Value as u32, ..ReadValueId::default() },
            ReadValueId { node_id: range_id, attribute_id: AttributeId::Value as u32, ..ReadValueId::default() },
            rvid(ns, node::TANK1_LEVEL, AttributeId::Description),
            rvid(ns, node::TANK1_LEVEL, AttributeId::DataType),
        ];
        let r = s.read(&nodes, TimestampsToReturn::Neither, 0.0).await.unwrap();
        let Some(Variant::ExtensionObject(eu)) = &r[0].value else { panic!("EUInformation expected: {:?}", r[0]) };
        let eu = eu.inner_as::<EUInformation>().expect("decoded EUInformation");
        assert_eq!((eu.unit_id, eu.display_name.text.as_ref()), (20529, "%"));
        assert_eq!(eu.namespace_uri.as_ref(), units::UNECE_NAMESPACE);
        let Some(Variant::ExtensionObject(range)) = &r[1].value else { panic!("Range expected: {:?}", r[1]) };
        let range = range.inner_as::<Range>().expect("decoded Range");
        assert_eq!((range.low, range.high), (0.0, 100.0));
        let Some(Variant::LocalizedText(d)) = &r[2].value else { panic!("description: {:?}", r[2]) };
        assert_eq!(d.text.as_ref(), "Tank 1 level");
        assert_eq!(r[3].value, Some(Variant::NodeId(Box::new(DataTypeId::Double.into()))));
        c.session.disconnect().await.unwrap();
        sim.stop().await;
    }

    #[tokio::test]
    async fn writes_change_the_plant_and_show_on_modbus_and_back() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous).await.unwrap();
        let s = &c.session;
        let mut mb = tcp::connect(sim.modbus_addr).await.unwrap();

        assert_eq!(write(s, ns, node::PRESSURE_SP, 11.5f64).await, StatusCode::Good);
        let regs = mb.read_holding_registers(addr::HR_PRESSURE_SP, 2).await.unwrap().unwrap();
        assert_eq!(regs, f32_words(11.5, Order::Abcd), "OPC UA write visible on Modbus at once");
        assert_eq!(sim.with_plant(|p| p.cmd.pressure_sp), 11.5);
        assert_eq!(write(s, ns, node::PRESSURE_SP, 16.5f64).await, StatusCode::BadOutOfRange);
        assert_eq!(write(s, ns, node::PRESSURE_SP, f64::NAN).await, StatusCode::BadOutOfRange);
        assert_eq!(write(s, ns, node::PRESSURE_SP, 5.0f32).await, StatusCode::BadTypeMismatch, "no conversions");
        assert_eq!(write(s, ns, node::PRESSURE_SP, 5i32).await, StatusCode::BadTypeMismatch);
        assert_eq!(read_one(s, ns, node::PRESSURE_SP).await, Variant::Double(11.5), "refused writes changed nothing");
        assert!(write(s, ns, node::PRESSURE, 1.0f64).await.is_bad(), "measurement is read-only");
        assert!(write(s, ns, node::TEST_INT32, 1i32).await.is_bad(), "test value is read-only");

        mb.write_multiple_registers(addr::HR_TEMPERATURE_SP, &f32_words(150.0, Order::Abcd)).await.unwrap().unwrap();
        assert_eq!(read_one(s, ns, node::TEMPERATURE_SP).await, Variant::Double(150.0), "Modbus write visible at once");

        assert_eq!(write(s, ns, node::PUMP1_RUN, false).await, StatusCode::Good);
        assert!(!mb.read_coils(addr::COIL_PUMP1_RUN, 1).await.unwrap().unwrap()[0], "coil 0 follows");
        assert_eq!(read_one(s, ns, node::PUMP1_RUN).await, Variant::Boolean(false));

        use node as n;
        let values: [(&str, Variant); 8] = [
            (n::WRITABLE_BOOLEAN, true.into()),
            (n::WRITABLE_INT16, (-2i16).into()),
            (n::WRITABLE_UINT16, 65535u16.into()),
            (n::WRITABLE_INT32, i32::MIN.into()),
            (n::WRITABLE_UINT32, u32::MAX.into()),
            (n::WRITABLE_FLOAT, 0.25f32.into()),
            (n::WRITABLE_DOUBLE, (-1.0e300f64).into()),
            (n::WRITABLE_STRING, "µ-test".into()),
        ];
        for (id, v) in &values {
            assert_eq!(write(s, ns, id, v.clone()).await, StatusCode::Good, "{id}");
        }
        for (id, v) in &values {
            assert_eq!(&read_one(s, ns, id).await, v, "{id}");
        }
        assert_eq!(write(s, ns, n::WRITABLE_INT16, 1i32).await, StatusCode::BadTypeMismatch);
        c.session.disconnect().await.unwrap();
        sim.stop().await;
    }

    #[tokio::test]
    async fn subscription_to_load_variables_gets_every_change() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous).await.unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let callback = DataChangeCallback::new(move |dv, item| {
            let _ = tx.send((item.item_to_monitor().node_id.clone(), dv));
        });
        let sub =
            c.session.create_subscription(Duration::from_millis(100), 100, 20, 0, 0, true, callback).await.unwrap();
        let items = [load_node_id(0), load_node_id(49)].map(|id| MonitoredItemCreateRequest {
            item_to_monitor: ReadValueId {
                node_id: NodeId::new(ns, id),
                attribute_id: AttributeId::Value as u32,
                ..ReadValueId::default()
            },
            monitoring_mode: MonitoringMode::Reporting,
            requested_parameters: MonitoringParameters {
                sampling_interval: 100.0,
                queue_size: 10,
                discard_oldest: true,
                ..MonitoringParameters::default()
            },
        });
        let created = c.session.create_monitored_items(sub, TimestampsToReturn::Both, items.to_vec()).await.unwrap();
        assert!(created.iter().all(|m| m.result.status_code.is_good()), "{created:?}");

        let mut seen: HashMap<NodeId, Vec<f64>> = HashMap::new();
        let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
        while let Ok(Some((id, dv))) = tokio::time::timeout_at(deadline, rx.recv()).await {
            let Some(Variant::Double(v)) = dv.value else { panic!("{dv:?}") };
            seen.entry(id).or_default().push(v);
        }
        for (i, id) in [(0usize, load_node_id(0)), (49, load_node_id(49))] {
            let v = &seen[&NodeId::new(ns, id.as_str())];
            assert!(v.len() >= 8, "{id}: only {} changes in 1.5 s: {v:?}", v.len());
            assert!(v.windows(2).all(|w| w[1] > w[0]), "{id}: increasing {v:?}");
            assert!(v.iter().all(|x| ((x - x.floor()) - i as f64 / 10_000.0).abs() < 1e-6), "{id}: {v:?}");
        }
        c.session.disconnect().await.unwrap();
        sim.stop().await;
    }

    #[tokio::test]
    async fn stop_closes_sessions_and_restart_binds_the_same_port() {
        let sim = start_with(loopback(), options()).await.unwrap();
        let addr = sim.opcua_addr.unwrap();
        let ns = sim.opcua_namespace_index().unwrap();
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous).await.unwrap();
        assert_eq!(read_one(&c.session, ns, node::TEST_UINT16).await, Variant::UInt16(0x1234));
        c.session.disable_reconnects();
        sim.stop().await;
        let ended = tokio::time::timeout(T, c.event_loop).await;
        assert!(ended.is_ok(), "the client sees the server go away");
        assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "nobody listens");

        let sim = start_with(loopback(), SimOptions { opcua_port: Some(addr.port()), ..options() }).await.unwrap();
        assert_eq!(sim.opcua_addr, Some(addr), "same port binds again");
        let c = connect(&sim, SecurityPolicy::None, MessageSecurityMode::None, IdentityToken::Anonymous).await.unwrap();
        assert_eq!(read_one(&c.session, ns, node::TEST_UINT16).await, Variant::UInt16(0x1234));
        c.session.disconnect().await.unwrap();
        sim.stop().await;

        let sim = start_with(loopback(), SimOptions { opcua_port: None, ..options() }).await.unwrap();
        assert_eq!((sim.opcua_addr, sim.opcua_url(), sim.opcua_namespace_index()), (None, None, None));
        sim.stop().await;
    }
}
