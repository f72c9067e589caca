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
    let ConnectionKind::ModbusTcp(m) = &c.kind else { panic!("unexpected kind") };
    assert_eq!(
        (m.host.as_str(), m.port, m.unit, m.byte_order, m.max_registers, m.max_gap),
        ("127.0.0.1", 502, 1, ByteOrder::Abcd, 125, 16)
    );

    let point = |name: &str| {
        let t = l.tag(l.tag_id(name).unwrap());
        let TagSource::Modbus(p) = t.source else { panic!("unexpected kind") };
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
    let Panel::Grid(g) = &l.screens[0].panels[0] else { panic!("not a grid") };
    assert_eq!(g.title.as_deref(), Some("Header"));
    assert_eq!(g.tags.len(), 9);
}

#[test]
fn modicon_references_and_defaults() {
    let src = "connections:\n  c: { modbus_tcp: { host: h } }\ntags:\n  A: { source: c, modicon: \"40004\" }\n  B: { source: c, modicon: \"000010\" }\n";
    let l = layout::parse(src, "m.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.title, "m", "title defaults to the file name");
    let TagSource::Modbus(a) = l.tags[0].source else { panic!("unexpected kind") };
    assert_eq!((a.table, a.address, a.ty, a.modicon()), (Table::Holding, 3, DataType::U16, "40004".to_string()));
    let TagSource::Modbus(b) = l.tags[1].source else { panic!("unexpected kind") };
    assert_eq!((b.table, b.address), (Table::Coil, 9));
    let ConnectionKind::ModbusTcp(m) = &l.connections[0].kind else { panic!("unexpected kind") };
    assert_eq!((m.port, m.unit, m.max_registers, m.max_bits), (502, 1, 125, 2000));
    assert_eq!(l.screens.len(), 1, "without screens, one screen shows every tag");
    let Panel::Grid(g) = &l.screens[0].panels[0] else { panic!("not a grid") };
    assert_eq!(g.tags.len(), 2);
}

#[test]
fn the_documented_opcua_example_loads_as_written() {
    use ttyhmi::layout::nodeid::{Identifier, Namespace};
    use ttyhmi::layout::{Deadband, SecretSource, UaMode, UaPolicy, UaSecurity, UaUser};
    let l = layout::load("tests/fixtures/opcua_example.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let ConnectionKind::OpcUa(u) = &l.connections[0].kind else { panic!("an OPC UA connection") };
    assert_eq!(u.endpoint, "opc.tcp://127.0.0.1:4840");
    assert_eq!(u.security, UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::SignAndEncrypt });
    assert_eq!(
        u.user,
        UaUser::UserName { username: "operator".into(), password: SecretSource::File("/etc/ttyhmi/ua1.pass".into()) }
    );
    assert_eq!(u.publishing_interval, Duration::from_millis(500));
    let TagSource::OpcUa(p) = &l.tags[0].source else { panic!("an OPC UA tag") };
    assert_eq!(p.node.namespace, Namespace::Index(2));
    assert_eq!(p.sampling, Some(Duration::from_millis(100)));
    let TagSource::OpcUa(p) = &l.tags[1].source else { panic!("an OPC UA tag") };
    assert_eq!(p.node.namespace, Namespace::Uri("urn:example:plant".into()));
    assert_eq!(p.deadband, Some(Deadband::Absolute(0.5)));
    let TagSource::OpcUa(p) = &l.tags[2].source else { panic!("an OPC UA tag") };
    assert_eq!((p.node.namespace.clone(), p.node.identifier.clone()), (Namespace::Index(0), Identifier::Numeric(2258)));
}

#[test]
fn opcua_security_defaults_to_secure_and_none_must_be_written() {
    use ttyhmi::layout::{UaMode, UaPolicy, UaSecurity};
    let src = |sec: &str| {
        format!(
            "connections:\n  u: {{ opcua: {{ endpoint: \"opc.tcp://h:4840\"{sec} }} }}\ntags:\n  A: {{ source: u, node: \"i=2258\" }}\n"
        )
    };
    let l = layout::parse(&src(""), "u.yaml").unwrap();
    let ConnectionKind::OpcUa(u) = &l.connections[0].kind else { panic!() };
    assert_eq!(u.security, UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::SignAndEncrypt });
    let l = layout::parse(&src(", security: none"), "u.yaml").unwrap();
    let ConnectionKind::OpcUa(u) = &l.connections[0].kind else { panic!() };
    assert_eq!(u.security, UaSecurity::None);
    let e = layout::parse(&src(", security: insecure"), "u.yaml").unwrap_err();
    assert!(e.to_string().contains("security `insecure` is not known"), "{e}");
}
