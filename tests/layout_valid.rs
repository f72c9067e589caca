//! The layout format as documented loads exactly as written, into the model it describes.

use std::time::Duration;

use ttyhmi::layout::{self, ByteOrder, ConnectionKind, DataType, Panel, Table, TagSource};

#[test]
fn the_documented_example_loads_as_written() {
    let l = layout::load("tests/fixtures/issue_example.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.title, "Boiler house");
    assert_eq!(l.connections.len(), 1);
    let c = &l.connections[0];
    assert_eq!((c.name.as_str(), c.timeout, c.poll), ("plc1", Duration::from_secs(1), Duration::from_millis(500)));
    let ConnectionKind::ModbusTcp(m) = &c.kind;
    assert_eq!(
        (m.host.as_str(), m.port, m.unit, m.byte_order, m.max_registers, m.max_gap),
        ("127.0.0.1", 502, 1, ByteOrder::Abcd, 125, 16)
    );

    let point = |name: &str| {
        let t = l.tag(l.tag_id(name).unwrap());
        let TagSource::Modbus(p) = t.source;
        (t.clone(), p)
    };
    let (t, p) = point("P_101");
    assert_eq!((p.table, p.address, p.ty), (Table::Holding, 1, DataType::F32));
    assert_eq!(
        (t.units.as_str(), t.decimals, t.description.as_str(), t.poll),
        ("bar", Some(2), "Header pressure", Duration::from_millis(500))
    );
    assert_eq!(point("T_102").1.order, ByteOrder::Cdab);
    assert_eq!(point("FQ_103").1.ty, DataType::I32);
    assert_eq!(point("COUNT").0.poll, Duration::from_millis(100));
    assert_eq!(point("NAME").1.ty, DataType::String { chars: 20 });
    assert_eq!(point("NAME").1.count(), 10);
    let (run, p) = point("RUN");
    assert_eq!((p.table, p.address, p.ty), (Table::Coil, 8, DataType::Bool));
    assert_eq!((run.on_text.as_deref(), run.off_text.as_deref()), (Some("RUNNING"), Some("STOPPED")));
    assert_eq!((point("ESTOP").1.table, point("ESTOP").1.address), (Table::Discrete, 2));
    let p = point("LEVEL").1;
    assert_eq!((p.table, p.address), (Table::Input, 3));
    assert_eq!(p.scale.unwrap().to_eu(500.0), 50.0);
    let p = point("FAULT").1;
    assert_eq!((p.table, p.address, p.bit, p.ty), (Table::Holding, 20, Some(3), DataType::Bool));

    assert_eq!(l.screens.len(), 1);
    let Panel::Grid(g) = &l.screens[0].panels[0];
    assert_eq!(g.title.as_deref(), Some("Header"));
    assert_eq!(g.tags.len(), 9);
}

#[test]
fn modicon_references_and_defaults() {
    let src = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  A: { source: c, modicon: \"40004\" }\n  B: { source: c, modicon: \"000010\" }\n";
    let l = layout::parse(src, "m.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.title, "m", "title defaults to the file name");
    let TagSource::Modbus(a) = l.tags[0].source;
    assert_eq!((a.table, a.address, a.ty, a.modicon()), (Table::Holding, 3, DataType::U16, "40004".to_string()));
    let TagSource::Modbus(b) = l.tags[1].source;
    assert_eq!((b.table, b.address), (Table::Coil, 9));
    let ConnectionKind::ModbusTcp(m) = &l.connections[0].kind;
    assert_eq!((m.port, m.unit, m.max_registers, m.max_bits), (502, 1, 125, 2000));
    assert_eq!(l.screens.len(), 1, "without screens, one screen shows every tag");
    let Panel::Grid(g) = &l.screens[0].panels[0];
    assert_eq!(g.tags.len(), 2);
}
