//! Issue 13 item 4: one write plan, shown and sent. For generated tag definitions (every data
//! type, every byte order of the connection and of the tag where the layout allows one, scales,
//! coils, bits with and without mask write, OPC UA nodes of every DataType) and generated values,
//! the dialog is driven to the confirmation and on to the write: the plan the confirmation shows
//! (on screen, and in the dialog's state) is the plan in the write effect, and the value it says
//! the device will hold is what the planned words mean.

use std::cell::Cell;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime};

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyEventState, KeyModifiers};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use ttyhmi::auth::{Identity, Role};
use ttyhmi::console::Console as State;
use ttyhmi::console::{Effect, Msg, update};
use ttyhmi::driver::modbus::codec;
use ttyhmi::driver::plan::{ModbusOp, Wire};
use ttyhmi::driver::{ConnectionState, DriverEvent, UaType};
use ttyhmi::layout::{self, ConnId, TagSource};
use ttyhmi::session::write::Dialog;
use ttyhmi::tag::{Sample, TagId, Value};

mod common;
use common::tui::screen;

const PIN: &str = "8642";

fn now() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

const ORDERS: [&str; 4] = ["ABCD", "CDAB", "BADC", "DCBA"];
/// Register types (a boolean is a coil or a `bit` of a register).
const TYPES: [&str; 10] = ["u16", "i16", "u32", "i32", "u64", "i64", "f32", "f64", "bcd16", "bcd32"];

/// One tag to write, as a layout says it.
#[derive(Clone, Debug)]
enum Def {
    Coil,
    Bit { bit: u8 },
    Register { ty: &'static str, order: Option<&'static str>, scale: Option<(i32, i32, i32, i32)> },
    OpcUa(UaType),
}

#[derive(Clone, Debug)]
struct Case {
    def: Def,
    conn_order: Option<&'static str>,
    mask_write: bool,
    address: u16,
    typed: String,
    pin: bool,
}

impl Case {
    fn layout(&self) -> String {
        let order = self.conn_order.map(|o| format!(", byte_order: {o}")).unwrap_or_default();
        let mut src = format!(
            "connections:\n  plc: {{ modbus_tcp: {{ host: 127.0.0.1 }}{order}, mask_write: {} }}\n  \
             ua: {{ opcua: {{ endpoint: \"opc.tcp://127.0.0.1:4840\", security: none }} }}\ntags:\n",
            self.mask_write
        );
        let a = self.address;
        let w = "write: { role: operator }";
        src.push_str(&match &self.def {
            Def::Coil => format!("  T: {{ source: plc, coil: {a}, {w} }}\n"),
            Def::Bit { bit } => format!("  T: {{ source: plc, holding: {a}, bit: {bit}, {w} }}\n"),
            Def::Register { ty, order, scale } => {
                let order = order.map(|o| format!(", byte_order: {o}")).unwrap_or_default();
                let scale = scale.map(|(r0, r1, e0, e1)| format!(", scale: {{ raw: [{r0}, {r1}], eu: [{e0}, {e1}] }}"));
                format!("  T: {{ source: plc, holding: {a}, type: {ty}{order}{}, {w} }}\n", scale.unwrap_or_default())
            }
            Def::OpcUa(_) => format!("  T: {{ source: ua, node: \"ns=2;s=Plant.T{a}\", {w} }}\n"),
        });
        src
    }

    fn boolean(&self) -> bool {
        matches!(self.def, Def::Coil | Def::Bit { .. } | Def::OpcUa(UaType::Boolean))
    }
}

fn def() -> impl Strategy<Value = Def> {
    let order = proptest::option::of(proptest::sample::select(&ORDERS[..]));
    let scale = proptest::option::of((-1000..1000i32, 1..2000i32, -500..500i32, 1..500i32))
        .prop_map(|s| s.map(|(r0, dr, e0, de)| (r0, r0 + dr, e0, e0 + de)));
    let register = (proptest::sample::select(&TYPES[..]), order, scale).prop_map(|(ty, order, scale)| {
        let wide = !matches!(ty, "u16" | "i16" | "bcd16");
        Def::Register { ty, order: order.filter(|_| wide), scale }
    });
    prop_oneof![
        Just(Def::Coil),
        (0u8..16).prop_map(|bit| Def::Bit { bit }),
        register.clone(),
        register,
        proptest::sample::select(&UaType::ALL[..]).prop_map(Def::OpcUa),
    ]
}

/// A value as an operator types it: mostly numbers the types hold, some they do not.
fn typed() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u32..10_000).prop_map(|n| n.to_string()),
        (-9_999i32..10_000, 0u32..1000).prop_map(|(i, f)| format!("{i}.{f:03}")),
        (-40_000i64..70_000).prop_map(|n| n.to_string()),
        Just("1".to_string()),
        Just("0".to_string()),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        def(),
        proptest::option::of(proptest::sample::select(&ORDERS[..])),
        any::<bool>(),
        0u16..1000,
        typed(),
        any::<bool>(),
    )
        .prop_map(|(def, conn_order, mask_write, address, typed, pin)| Case {
            def,
            conn_order,
            mask_write,
            address,
            typed,
            pin,
        })
}

/// Hashing a PIN takes a moment: once for all cases.
fn with_pin() -> Identity {
    static ID: OnceLock<Identity> = OnceLock::new();
    ID.get_or_init(|| Identity::demo("alice", PIN).expect("a valid PIN")).clone()
}

fn key(s: &mut State, code: KeyCode) -> Vec<Effect> {
    let k = KeyEvent { code, modifiers: KeyModifiers::NONE, kind: KeyEventKind::Press, state: KeyEventState::NONE };
    update(s, Msg::Key(k), now())
}

fn typed_keys(s: &mut State, text: &str) -> Vec<Effect> {
    text.chars().flat_map(|c| key(s, KeyCode::Char(c))).collect()
}

/// Both connections up; the tag Good (and its node's DataType known, for OPC UA); an operator.
fn console(c: &Case) -> State {
    let l = layout::parse(&c.layout(), "plan.yaml").unwrap_or_else(|e| panic!("{e}\n{}", c.layout()));
    let identity = if c.pin { with_pin() } else { Identity { pin_hash: None, ..with_pin() } };
    assert_eq!(identity.role, Role::Operator);
    let person = ttyhmi::session::state::Person::viewer("alice", false).with_identity(identity);
    let mut s = State::with(Arc::new(l), person, now());
    for conn in 0..2 {
        let up = DriverEvent::State { conn: ConnId(conn), state: ConnectionState::Connected };
        update(&mut s, Msg::Driver(up), now());
    }
    let id = TagId(0);
    let conn = s.layout.tag(id).conn;
    if let Def::OpcUa(ty) = c.def {
        update(
            &mut s,
            Msg::Driver(DriverEvent::DataTypes { conn, types: vec![(id, Ok(ttyhmi::driver::WireType::Ua(ty)))] }),
            now(),
        );
    }
    let current = if c.boolean() { Value::Bool(false) } else { Value::Float(0.0) };
    let sample = DriverEvent::Samples { conn, samples: vec![(id, Sample::good(current, now()))], raw: None };
    update(&mut s, Msg::Driver(sample), now());
    s
}

/// Drives the dialog for one case; true when it reached the confirmation (and so the write).
fn shown_is_sent(c: &Case) -> Result<bool, TestCaseError> {
    let mut s = console(c);
    prop_assert!(key(&mut s, KeyCode::Char('w')).is_empty());
    prop_assert!(matches!(s.write_dialog(), Some(Dialog::Edit { .. })), "{:?}", s.write_dialog());
    typed_keys(&mut s, &c.typed);
    key(&mut s, KeyCode::Enter);
    let Some(Dialog::Confirm(confirm)) = s.write_dialog().cloned() else {
        // Refused in the editor (it does not fit, or is out of range): nothing goes out.
        prop_assert!(matches!(s.write_dialog(), Some(Dialog::Edit { error: Some(_), .. })), "{:?}", s.write_dialog());
        return Ok(false);
    };
    let shown = confirm.plan.clone();
    // On screen: the description of the plan, whole.
    let out = screen(&s, 160, 48);
    prop_assert!(out.contains(&shown.description()), "{} not on screen:\n{out}", shown.description());
    // What the confirmation says the device will hold is what the planned words mean.
    match (shown.wire(), &s.layout.tag(TagId(0)).source, &c.def) {
        (Wire::Modbus(w), TagSource::Modbus(p), def) => {
            let meaning = match &w.op {
                ModbusOp::Register(_) | ModbusOp::Registers(_) => codec::decode_point(p, w.op.words().unwrap_or(&[])),
                ModbusOp::Coil(on) => Ok(Value::Bool(*on)),
                ModbusOp::MaskWrite { bit, or, .. } | ModbusOp::ReadModifyWrite { bit, or, .. } => {
                    Ok(Value::Bool(or & (1 << bit) != 0))
                }
            };
            prop_assert_eq!(meaning.as_ref(), Ok(confirm.new_value()));
            // The function code the table and the connection's option decide.
            let fc = match def {
                Def::Coil => 0x05,
                Def::Bit { .. } if c.mask_write => 0x16,
                Def::Bit { .. } => 0x06,
                Def::Register { .. } if p.count() == 1 => 0x06,
                _ => 0x10,
            };
            prop_assert_eq!(w.op.function_code(), fc);
            prop_assert_eq!((w.unit, w.address), (p.unit, p.address));
        }
        (Wire::OpcUa(w), TagSource::OpcUa(_), Def::OpcUa(ty)) => {
            prop_assert_eq!(w.value.data_type(), *ty, "a Variant of the node's DataType");
            prop_assert_eq!(&w.value.value(), confirm.new_value());
        }
        (wire, _, def) => prop_assert!(false, "{def:?} planned as {wire:?}"),
    }
    let again = if c.pin { PIN } else { c.typed.as_str() };
    typed_keys(&mut s, again);
    let effects = key(&mut s, KeyCode::Enter);
    let sent: Vec<_> = effects.iter().filter_map(|e| if let Effect::Write(w) = e { Some(w) } else { None }).collect();
    prop_assert_eq!(sent.len(), 1, "{:?}", effects);
    prop_assert_eq!(&sent[0].plan, &shown, "the plan sent is the plan shown");
    let raw = sent[0].audit.raw.as_ref().and_then(|r| r.as_str()).unwrap_or_default().to_string();
    prop_assert!(raw.starts_with(&shown.description()), "the attempt on record names what is sent: {raw}");
    Ok(true)
}

#[test]
fn the_write_plan_shown_is_the_write_plan_sent() {
    let confirmed = Cell::new(0u32);
    let cases = 384;
    let mut runner = TestRunner::new(Config { cases, ..Config::default() });
    let result = runner.run(&case(), |c| {
        if shown_is_sent(&c)? {
            confirmed.set(confirmed.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The property is about confirmed writes: most generated cases must reach one.
    assert!(confirmed.get() > cases / 2, "only {} of {cases} cases reached the confirmation", confirmed.get());
}

/// The same for a few hand-picked cases, so a failure is easy to read.
#[test]
fn hand_picked_cases() {
    let base = Case { def: Def::Coil, conn_order: None, mask_write: true, address: 30, typed: "1".into(), pin: false };
    let cases = [
        Case {
            def: Def::Register { ty: "f32", order: Some("CDAB"), scale: None },
            typed: "6.5".into(),
            ..base.clone()
        },
        Case {
            def: Def::Register { ty: "f64", order: None, scale: None },
            conn_order: Some("DCBA"),
            typed: "-12.25".into(),
            ..base.clone()
        },
        Case {
            def: Def::Register { ty: "u16", order: None, scale: Some((0, 1000, 0, 100)) },
            typed: "42.34".into(),
            ..base.clone()
        },
        Case { def: Def::Bit { bit: 3 }, mask_write: false, ..base.clone() },
        Case { def: Def::OpcUa(UaType::Int32), typed: "1500".into(), ..base.clone() },
        Case { def: Def::OpcUa(UaType::Float), typed: "0.1".into(), pin: true, ..base.clone() },
        base,
    ];
    for c in cases {
        match shown_is_sent(&c) {
            Ok(true) => {}
            other => panic!("{c:?}: {other:?}"),
        }
    }
}

/// An OPC UA node whose DataType the driver has not reported (or cannot use) has no plan: the
/// editor says why, and nothing is written.
#[test]
fn an_opcua_write_waits_for_the_nodes_data_type() {
    let c = Case {
        def: Def::OpcUa(UaType::Double),
        conn_order: None,
        mask_write: true,
        address: 1,
        typed: "12".into(),
        pin: false,
    };
    let mut s = console(&c);
    s.plant.data_types.clear();
    key(&mut s, KeyCode::Char('w'));
    typed_keys(&mut s, "12");
    let effects = key(&mut s, KeyCode::Enter);
    let Some(Dialog::Edit { error: Some(e), .. }) = s.write_dialog() else { panic!("{:?}", s.write_dialog()) };
    assert!(e.contains("DataType of ns=2;s=Plant.T1 is not known yet"), "{e}");
    assert!(effects.iter().all(|e| !matches!(e, Effect::Write(_))), "{effects:?}");
    s.plant.data_types.insert(TagId(0), Err("writing a node of data type i=22 is not supported".into()));
    let effects = key(&mut s, KeyCode::Enter);
    let Some(Dialog::Edit { error: Some(e), .. }) = s.write_dialog() else { panic!("{:?}", s.write_dialog()) };
    assert!(e.contains("i=22 is not supported"), "{e}");
    assert!(effects.iter().all(|e| !matches!(e, Effect::Write(_))), "{effects:?}");
}
