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
    let ConnectionKind::Modbus(m) = &c.kind else { panic!("unexpected kind") };
    assert_eq!(
        (
            m.link.host_port().unwrap().0,
            m.link.host_port().unwrap().1,
            m.unit,
            m.byte_order,
            m.max_registers,
            m.max_gap
        ),
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
    let ConnectionKind::Modbus(m) = &l.connections[0].kind else { panic!("unexpected kind") };
    assert_eq!((m.link.host_port().unwrap().1, m.unit, m.max_registers, m.max_bits), (502, 1, 125, 2000));
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

#[test]
fn the_documented_alarms_example_loads_into_its_rules() {
    use ttyhmi::alarm::{Discrete, LimitKind, Priority, Rule, RuleKind};
    use ttyhmi::layout::AlarmsPanel;
    let l = layout::load("tests/fixtures/alarms_example.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let id = |name: &str| l.tag_id(name).unwrap();
    let limit = |kind, limit| RuleKind::Limit { kind, limit };
    let all_but_first: Vec<_> = (1..l.tags.len() as u32).map(ttyhmi::tag::TagId).collect();
    let expected = vec![
        Rule::new(id("T_102"), limit(LimitKind::HiHi, 95.0), Priority::Critical, "Outlet temperature very high")
            .key("T_102.hihi"),
        Rule::new(id("T_102"), limit(LimitKind::Hi, 80.0), Priority::High, "T_102 high")
            .key("T_102.hi")
            .deadband(1.0)
            .on_delay(Duration::from_secs(5))
            .off_delay(Duration::from_secs(2)),
        Rule::new(id("T_102"), limit(LimitKind::Lo, 10.0), Priority::Low, "T_102 low").key("T_102.lo"),
        Rule::new(id("T_102"), limit(LimitKind::LoLo, 2.0), Priority::Critical, "T_102 low low").key("T_102.lolo"),
        Rule::new(id("RUN"), RuleKind::Discrete(Discrete::Bool(false)), Priority::Medium, "Pump stopped")
            .key("RUN.discrete")
            .suppress_when(id("MAINT_MODE"), Discrete::Bool(true)),
        Rule::new(id("MODE"), RuleKind::Discrete(Discrete::AnyOf(vec![3, 4])), Priority::Low, "Mode is 3 or 4")
            .key("MODE.discrete"),
        Rule::new(
            id("P_101"),
            RuleKind::Rate { per: Duration::from_secs(1), limit: 2.5 },
            Priority::Medium,
            "Header pressure rate of change",
        )
        .key("P_101.rate"),
        Rule::new(
            id("P_101"),
            RuleKind::Deviation { from: id("P_101_SP"), limit: 5.0 },
            Priority::Low,
            "Header pressure deviates from P_101_SP",
        )
        .key("P_101.deviation"),
        Rule::new(id("P_101"), RuleKind::BadQuality { also: vec![] }, Priority::High, "Header pressure bad quality")
            .key("P_101.bad_quality"),
        Rule {
            connection: Some("plc1".into()),
            ..Rule::new(
                id("T_102"),
                RuleKind::BadQuality { also: all_but_first },
                Priority::High,
                "plc1 communications lost",
            )
            .key("plc1.comms")
        },
    ];
    assert_eq!(l.alarms.len(), expected.len());
    for (got, want) in l.alarms.iter().zip(&expected) {
        assert_eq!(got, want, "{}", want.key);
    }
    assert_eq!(l.alarm_options.bell, vec![Priority::Critical, Priority::High]);
    assert_eq!(l.alarm_options.max_shelve, Duration::from_secs(8 * 3600));
    let titles: Vec<&str> = l.screens.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Plant", "Alarms"], "the layout has an alarms screen: none is added");
    assert_eq!(l.screens[1].panels, vec![Panel::Alarms(AlarmsPanel { title: None })]);
}

const ALARM_BASE: &str = "connections:\n  plc1: { modbus_tcp: { host: h } }\ntags:\n  RUN: { source: plc1, coil: 0, description: Pump 1 running }\n  T: { source: plc1, holding: 0, type: f32 }\n";

#[test]
fn alarms_without_an_alarms_panel_get_an_alarms_screen() {
    use ttyhmi::layout::AlarmsPanel;
    let src = format!(
        "{ALARM_BASE}alarms:\n  RUN:\n    discrete: {{ when: false, priority: high }}\nscreens:\n  - title: Plant\n    panels:\n      - grid: {{ tags: [RUN] }}\n"
    );
    let l = layout::parse(&src, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.alarms[0].message, "Pump 1 running is false", "the default message names the description");
    let titles: Vec<&str> = l.screens.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Plant", "Alarms"]);
    assert_eq!(l.screens[1].panels, vec![Panel::Alarms(AlarmsPanel::default())]);

    // Without screens: the default screen of all tags, then the alarms screen.
    let l = layout::parse(&format!("{ALARM_BASE}alarms:\n  T:\n    hi: {{ limit: 1, priority: low }}\n"), "a.yaml")
        .unwrap_or_else(|e| panic!("{e}"));
    let titles: Vec<&str> = l.screens.iter().map(|s| s.title.as_str()).collect();
    assert_eq!(titles, ["Tags", "Alarms"]);

    // No alarms: no alarms screen; an alarms panel may have a title.
    let l = layout::parse(ALARM_BASE, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.screens.len(), 1);
    let src = format!("{ALARM_BASE}screens:\n  - title: A\n    panels:\n      - alarms: {{ title: Active alarms }}\n");
    let l = layout::parse(&src, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.screens[0].panels, vec![Panel::Alarms(AlarmsPanel { title: Some("Active alarms".into()) })]);
    let src = format!("{ALARM_BASE}screens:\n  - title: A\n    panels:\n      - alarms:\n");
    let l = layout::parse(&src, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.screens[0].panels, vec![Panel::Alarms(AlarmsPanel::default())], "`alarms:` alone is `alarms: {{}}`");
}

#[test]
fn alarm_options_default_to_every_priority_and_eight_hours() {
    use ttyhmi::alarm::Priority;
    let l = layout::parse(ALARM_BASE, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.alarm_options.bell, Priority::ALL.to_vec());
    assert_eq!(l.alarm_options.max_shelve, Duration::from_secs(8 * 3600));
    assert!(l.alarms.is_empty());
    let src = format!("{ALARM_BASE}alarm_options:\n  bell: []\n  max_shelve: 30m\n");
    let l = layout::parse(&src, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((l.alarm_options.bell.len(), l.alarm_options.max_shelve), (0, Duration::from_secs(1800)));
    let src = format!("{ALARM_BASE}alarm_options:\n  bell: [low]\n");
    let l = layout::parse(&src, "a.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (l.alarm_options.bell, l.alarm_options.max_shelve),
        (vec![Priority::Low], Duration::from_secs(8 * 3600))
    );
}

#[test]
fn a_name_that_is_both_a_tag_and_a_connection_takes_both_kinds_of_rules() {
    use ttyhmi::alarm::RuleKind;
    let src = "connections:\n  pump: { modbus_tcp: { host: h } }\ntags:\n  pump: { source: pump, holding: 0 }\n  other: { source: pump, holding: 1 }\nalarms:\n  pump:\n    hi: { limit: 7, priority: low }\n    comms: { priority: high }\n";
    let l = layout::parse(src, "b.yaml").unwrap_or_else(|e| panic!("{e}"));
    let keys: Vec<&str> = l.alarms.iter().map(|r| r.key.as_str()).collect();
    assert_eq!(keys, ["pump.hi", "pump.comms"]);
    assert_eq!(l.alarms[1].kind, RuleKind::BadQuality { also: vec![ttyhmi::tag::TagId(1)] });
    assert_eq!(l.alarms[1].message, "pump communications lost");
}

#[test]
fn opcua_tags_take_any_alarm_rule_their_server_decides_the_type() {
    let src = "connections:\n  u: { opcua: { endpoint: \"opc.tcp://h:4840\" } }\ntags:\n  A: { source: u, node: \"i=2258\" }\nalarms:\n  A:\n    hi: { limit: 1, priority: low }\n    discrete: { when: true, priority: low }\n";
    let l = layout::parse(src, "u.yaml").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.alarms.len(), 2);
}

#[test]
fn the_documented_trends_example_loads_into_its_panels() {
    use ttyhmi::layout::{BarPanel, GridPanel, Pen, Screen, TrendPanel};
    let path = "tests/fixtures/trends_example.yaml";
    let l = layout::load(path.as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let id = |name: &str| l.tag_id(name).unwrap();
    let pen = |name: &str, range| Pen { tag: id(name), range };
    let expected = vec![Screen {
        title: "Boiler".into(),
        panels: vec![
            Panel::Trend(TrendPanel {
                title: Some("Pressures".into()),
                pens: vec![pen("P_101", None), pen("T_102", None)],
                window: Duration::from_secs(600),
            }),
            Panel::Trend(TrendPanel {
                title: None,
                pens: vec![pen("P_101", None), pen("T_102", Some((0.0, 250.0)))],
                window: Duration::from_secs(600),
            }),
            Panel::Bar(BarPanel { title: None, tag: id("LEVEL"), range: (0.0, 100.0), normal: Some((20.0, 80.0)) }),
            Panel::Bar(BarPanel {
                title: Some("Pressure".into()),
                tag: id("P_101"),
                range: (0.0, 16.0),
                normal: Some((6.0, 10.0)),
            }),
            Panel::Grid(GridPanel { title: None, tags: vec![id("P_101"), id("T_102"), id("LEVEL")], sparklines: true }),
        ],
    }];
    assert_eq!(l.screens, expected);
    assert_eq!(l.history, Duration::from_secs(2 * 3600));
    assert_eq!(l.history_tags(), vec![id("P_101"), id("T_102"), id("LEVEL")]);

    // history: defaults to 2h, or as written.
    let src = std::fs::read_to_string(path).unwrap();
    let line = src.lines().find(|l| l.starts_with("history:")).unwrap();
    let l = layout::parse(&src.replace(line, ""), path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.history, layout::DEFAULT_HISTORY);
    assert_eq!(layout::DEFAULT_HISTORY, Duration::from_secs(2 * 3600));
    let l = layout::parse(&src.replace(line, "history: 36h"), path).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.history, Duration::from_secs(36 * 3600));
    assert_eq!(l.screens, expected, "the panels do not depend on a longer history");
}

#[test]
fn grids_have_no_sparklines_unless_asked() {
    use ttyhmi::layout::GridPanel;
    let src = format!(
        "{ALARM_BASE}screens:\n  - title: A\n    panels:\n      - grid: {{ tags: [T], sparklines: false }}\n      - grid: {{ tags: [RUN] }}\n"
    );
    let l = layout::parse(&src, "g.yaml").unwrap_or_else(|e| panic!("{e}"));
    let grids: Vec<&GridPanel> =
        l.screens[0].panels.iter().map(|p| if let Panel::Grid(g) = p { g } else { panic!("a grid") }).collect();
    assert_eq!((grids[0].sparklines, grids[1].sparklines), (false, false));
    let l = layout::parse(ALARM_BASE, "g.yaml").unwrap_or_else(|e| panic!("{e}"));
    let Panel::Grid(g) = &l.screens[0].panels[0] else { panic!("a grid") };
    assert!(!g.sparklines, "nor on the default screen");
    assert!(l.history_tags().is_empty());
}

#[test]
fn booleans_and_opcua_tags_are_trended_and_a_reversed_scale_gives_a_rising_bar() {
    use ttyhmi::layout::{BarPanel, Pen};
    let src = "connections:\n  c: { modbus_tcp: { host: h } }\n  u: { opcua: { endpoint: \"opc.tcp://h:4840\" } }\ntags:\n  RUN: { source: c, coil: 0 }\n  BIT: { source: c, holding: 1, bit: 3 }\n  IN: { source: c, discrete: 2 }\n  UA: { source: u, node: \"i=2258\" }\n  INV: { source: c, input: 0, scale: { raw: [4000, 20000], eu: [100, 0] } }\nscreens:\n  - title: T\n    panels:\n      - trend: { pens: [RUN, BIT, IN, UA] }\n      - bar: { tag: INV }\n      - bar: { tag: UA, range: [-1, 1] }\n";
    let l = layout::parse(src, "t.yaml").unwrap_or_else(|e| panic!("{e}"));
    let id = |name: &str| l.tag_id(name).unwrap();
    let Panel::Trend(t) = &l.screens[0].panels[0] else { panic!("a trend") };
    let pens: Vec<Pen> = ["RUN", "BIT", "IN", "UA"].iter().map(|n| Pen { tag: id(n), range: None }).collect();
    assert_eq!(t.pens, pens);
    assert_eq!(
        l.screens[0].panels[1],
        Panel::Bar(BarPanel { title: None, tag: id("INV"), range: (0.0, 100.0), normal: None })
    );
    let Panel::Bar(b) = &l.screens[0].panels[2] else { panic!("a bar") };
    assert_eq!(b.range, (-1.0, 1.0));
    // An OPC UA tag has no scale in the layout: a bar of it needs a range.
    let e = layout::parse(&src.replace("bar: { tag: UA, range: [-1, 1] }", "bar: { tag: UA }"), "t.yaml").unwrap_err();
    assert!(e.to_string().contains("bar of `UA` needs range: [min, max] (the tag has no scale)"), "{e}");
}

#[test]
fn modbus_rtu_over_tcp_is_modbus_with_rtu_framing() {
    let src = "connections:\n  gw1:\n    modbus_rtu_over_tcp: { host: serial-gw.example, port: 4001, unit: 3 }\ntags:\n  T: { source: gw1, holding: 0 }\n";
    let l = layout::parse(src, "gw.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ConnectionKind::Modbus(m) = &l.connections[0].kind else { panic!("not Modbus") };
    assert_eq!(m.link, layout::ModbusLink::RtuOverTcp { host: "serial-gw.example".into(), port: 4001 });
    assert_eq!(m.unit, 3);
    assert_eq!(l.connections[0].endpoint(), "rtu-over-tcp serial-gw.example:4001");
}

#[test]
fn modbus_rtu_is_a_serial_line_with_defaults_from_the_specification() {
    let src = "connections:\n  bus1:\n    modbus_rtu: { port: /dev/ttyUSB0 }\n  bus2:\n    modbus_rtu: { port: /dev/ttyUSB1, baud: 9600, parity: NONE, data_bits: 8, stop_bits: 2 }\n    unit: 7\n    turnaround: 50ms\ntags:\n  A: { source: bus1, holding: 0 }\n  B: { source: bus2, holding: 0, unit: 247 }\n";
    let l = layout::parse(src, "bus.yaml").unwrap_or_else(|e| panic!("{e}"));
    let line = |i: usize| match &l.connections[i].kind {
        ConnectionKind::Modbus(m) => match &m.link {
            layout::ModbusLink::Serial(s) => (m.unit, s.clone()),
            other => panic!("not a serial line: {other:?}"),
        },
        _ => panic!("not Modbus"),
    };
    let (unit, s) = line(0);
    assert_eq!((unit, s.baud, s.parity, s.data_bits, s.stop_bits), (1, 19200, layout::Parity::Even, 8, 1));
    assert_eq!(s.turnaround, std::time::Duration::from_millis(20));
    assert_eq!(s.bits_per_char(), 11, "start, 8 data, parity, stop");
    assert_eq!(l.connections[0].endpoint(), "rtu /dev/ttyUSB0 19200-8E1");
    let (unit, s) = line(1);
    assert_eq!((unit, s.baud, s.parity, s.stop_bits), (7, 9600, layout::Parity::None, 2));
    assert_eq!(s.turnaround, std::time::Duration::from_millis(50));
    assert_eq!(s.bits_per_char(), 11, "start, 8 data, 2 stop");
    assert_eq!(l.connections[1].endpoint(), "rtu /dev/ttyUSB1 9600-8N2");
}

#[test]
fn history_keeps_its_short_form_and_takes_a_memory_budget() {
    use ttyhmi::tag::history::{History, PointQuality, Series};
    let path = "tests/fixtures/trends_example.yaml";
    let src = std::fs::read_to_string(path).unwrap();
    let line = src.lines().find(|l| l.starts_with("history:")).unwrap();
    let with = |history: &str| layout::parse(&src.replace(line, history), path).unwrap_or_else(|e| panic!("{e}"));

    // The short form keeps the default budget of 512 MiB.
    let l = with("history: 36h");
    assert_eq!((l.history, l.history_budget), (Duration::from_secs(36 * 3600), 512 << 20));
    assert_eq!(layout::DEFAULT_HISTORY_BUDGET, 512 << 20);
    // Three trended tags kept 36 h: 1,296,000 points of 16 bytes each.
    assert_eq!(l.history_worst_case_bytes(), 3 * 1_296_000 * 16);
    let l = with("history: { keep: 4h, budget: 2GiB }");
    assert_eq!((l.history, l.history_budget), (Duration::from_secs(4 * 3600), 2 << 30));
    let l = with("history: { budget: 1500MB }");
    assert_eq!((l.history, l.history_budget), (layout::DEFAULT_HISTORY, 1_500_000_000));
    let l = with("history: { keep: 10m }");
    assert_eq!((l.history, l.history_budget), (Duration::from_secs(600), layout::DEFAULT_HISTORY_BUDGET));

    // The worst case is what a full series really holds.
    let retention = Duration::from_secs(600);
    let mut s = Series::new(retention, std::time::SystemTime::UNIX_EPOCH);
    for i in 0..20_000u64 {
        s.push(std::time::SystemTime::UNIX_EPOCH + Duration::from_millis(i), Some(i as f64), PointQuality::Good);
    }
    assert_eq!(s.len(), s.capacity());
    assert_eq!(History::worst_case_bytes(1, retention), s.bytes() as u64);
    assert_eq!(History::worst_case_bytes(500, Duration::from_secs(48 * 3600)), 500 * 27_648_000);
}

#[test]
fn a_large_history_loads_within_a_raised_budget() {
    // The 500 tags kept 48 h that the default budget refuses load with a budget that holds them.
    let path = "tests/fixtures/invalid/history_over_budget.yaml";
    let src = std::fs::read_to_string(path).unwrap();
    let l = layout::parse(&src.replace("history: 48h", "history: { keep: 48h, budget: 13GiB }"), path)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(l.history_tags().len(), 500);
    assert_eq!(l.history_worst_case_bytes(), 13_824_000_000);
    // And with the shorter history the message suggests.
    let l = layout::parse(&src.replace("history: 48h", "history: 1h"), path).unwrap_or_else(|e| panic!("{e}"));
    assert!(l.history_worst_case_bytes() <= l.history_budget);
}

#[test]
fn the_documented_sparkplug_example_loads_as_written() {
    use ttyhmi::layout::{MqttLogin, MqttTls, SecretSource, SpPoint};
    let l = layout::load("tests/fixtures/sparkplug_example.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let c = &l.connections[0];
    let ConnectionKind::Sparkplug(sp) = &c.kind else { panic!("a Sparkplug connection") };
    assert_eq!((sp.broker.host.as_str(), sp.broker.port), ("broker.plant.local", 8883));
    assert_eq!(
        sp.broker.tls,
        Some(MqttTls {
            ca: "/etc/ttyhmi/mqtt-ca.pem".into(),
            client_cert: Some("client.pem".into()),
            client_key: Some("client.key".into())
        })
    );
    assert_eq!(
        sp.broker.login,
        Some(MqttLogin { username: "console1".into(), password: SecretSource::File("/etc/ttyhmi/mqtt.pass".into()) })
    );
    assert_eq!((sp.group.as_str(), sp.node.as_str(), sp.host_id.as_str()), ("Plant", "Edge1", "control-room-1"));
    assert_eq!((sp.reorder_timeout, sp.rebirth_cooldown), (Duration::from_secs(2), Duration::from_secs(10)));
    assert_eq!(c.endpoint(), "mqtts://broker.plant.local:8883 Plant/Edge1");
    assert_eq!(c.timeout, Duration::from_secs(5), "a write waits 5 s for the gateway's result by default");

    let point = |name: &str| {
        let t = l.tag(l.tag_id(name).unwrap());
        let TagSource::Sparkplug(p) = &t.source else { panic!("a Sparkplug tag") };
        (t.clone(), p.clone())
    };
    let (level, p) = point("LEVEL");
    assert_eq!(p, SpPoint { device: Some("Pump1".into()), metric: "Level".into() });
    assert_eq!((level.units.as_str(), level.write), ("%", None));
    assert_eq!(level.stale_after(), Duration::MAX, "report by exception: values never go stale by age");
    assert_eq!(point("COUNTER").1, SpPoint { device: None, metric: "Counter".into() });
    let (speed, p) = point("SPEED");
    assert_eq!(p.to_string(), "Pump1/Speed");
    let w = speed.write.expect("a write block");
    assert_eq!((w.role, w.min, w.max, w.max_step), (ttyhmi::auth::Role::Operator, Some(0.0), Some(3000.0), None));
    // Metric names may hold Sparkplug folders.
    assert_eq!(point("TEMP").1.metric, "Inputs/Temperature");
    assert!(l.publish.is_none());
}

#[test]
fn sparkplug_defaults_and_the_publish_block() {
    let src = "connections:\n  site: { sparkplug: { host: \"::1\", group: G, node: N, host_id: H, reorder_timeout: 100ms, rebirth_cooldown: 10m } }\n  plain: { sparkplug: { host: h, group: G, node: N2, host_id: H, tls: { ca: ca.pem }, username: u, password_env: MQTT_PASSWORD } }\n  plc1: { modbus_tcp: { host: h } }\ntags:\n  A: { source: plc1, holding: 0 }\n  B: { source: site, metric: A }\n  C: { source: plain, metric: A }\npublish: { sparkplug: { host: 127.0.0.1, group: Plant, node: Boiler1 } }\n";
    let l = layout::parse(src, "sp.yaml").unwrap_or_else(|e| panic!("{e}"));
    let ConnectionKind::Sparkplug(sp) = &l.connections[0].kind else { panic!("a Sparkplug connection") };
    assert_eq!((sp.broker.port, sp.broker.tls.is_none(), sp.broker.login.is_none()), (1883, true, true));
    assert_eq!((sp.reorder_timeout, sp.rebirth_cooldown), (Duration::from_millis(100), Duration::from_secs(600)));
    assert_eq!(l.connections[0].endpoint(), "mqtt://[::1]:1883 G/N");
    let ConnectionKind::Sparkplug(plain) = &l.connections[1].kind else { panic!("a Sparkplug connection") };
    assert_eq!(plain.broker.port, 8883, "8883 is the default with tls");
    let tls = plain.broker.tls.as_ref().unwrap();
    assert_eq!((tls.ca.to_str(), tls.client_cert.as_ref(), tls.client_key.as_ref()), (Some("ca.pem"), None, None));
    assert_eq!(plain.broker.login.as_ref().unwrap().password, layout::SecretSource::Env("MQTT_PASSWORD".into()));
    // The same metric name on two connections is two metrics.
    assert_eq!(l.tags.len(), 3);
    let p = l.publish.as_ref().expect("the publish block");
    assert_eq!(
        (p.broker.endpoint(), p.group.as_str(), p.node.as_str()),
        ("mqtt://127.0.0.1:1883".into(), "Plant", "Boiler1")
    );

    // demo.yaml is what `ttyhmi gateway` publishes, and sparkplug-console.yaml reads it.
    let demo = layout::load("layouts/demo.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let p = demo.publish.clone().expect("demo.yaml publishes");
    assert_eq!(
        (p.broker.host.as_str(), p.broker.port, p.group.as_str(), p.node.as_str()),
        ("127.0.0.1", 1883, "Plant", "Boiler1")
    );
    let console = layout::load("layouts/sparkplug-console.yaml".as_ref()).unwrap_or_else(|e| panic!("{e}"));
    let ConnectionKind::Sparkplug(sp) = &console.connections[0].kind else { panic!("a Sparkplug connection") };
    assert_eq!((sp.group.as_str(), sp.node.as_str()), (p.group.as_str(), p.node.as_str()));
    for t in &console.tags {
        let TagSource::Sparkplug(point) = &t.source else { panic!("{}: a Sparkplug tag", t.name) };
        let device = point.device.as_deref().expect("every tag reads a device");
        let id =
            demo.tag_id(&point.metric).unwrap_or_else(|| panic!("{}: demo.yaml has no tag {}", t.name, point.metric));
        assert_eq!(demo.connection(demo.tag(id).conn).name, device, "{}", t.name);
        assert_eq!(t.write, demo.tag(id).write, "{}: the same write limits as the gateway's", t.name);
    }
}
