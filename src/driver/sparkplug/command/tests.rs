use super::*;
use proptest::prelude::*;

fn key(n: u8) -> SigningKey {
    SigningKey::from_bytes(&[n; 32])
}

fn req() -> WriteRequest {
    WriteRequest {
        group: "Plant".into(),
        node: "Boiler1".into(),
        device: Some("plc1".into()),
        metric: "SPEED".into(),
        datatype: DataType::Double,
        value: SpValue::Double(1500.0),
        user: "alice".into(),
        role: "operator".into(),
        host: "control-room-1".into(),
        request_id: "r-1".into(),
        time_ms: 1_700_000_000_000,
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("ttyhmi-cmdkey-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

// ----- signing -------------------------------------------------------------------------------

#[test]
fn a_signed_metric_carries_every_claim_and_verifies() {
    let k = key(7);
    let r = req();
    let m = r.to_metric(Some(12), &k);
    assert_eq!((m.alias, m.name.as_deref()), (Some(12), None), "data and commands carry the alias only");
    assert_eq!(m.datatype, Some(DataType::Double as u32));
    assert_eq!(m.timestamp, Some(r.time_ms));
    assert_eq!(m.value, encode(DataType::Double, &SpValue::Double(1500.0)));
    let c = claims(m.properties.as_ref()).expect("claims");
    assert_eq!((c.user.as_str(), c.role.as_str(), c.host.as_str()), ("alice", "operator", "control-room-1"));
    assert_eq!((c.request_id.as_str(), c.time_ms), ("r-1", r.time_ms));
    // The gateway rebuilds the request from the topic, its birth (the name) and the claims.
    let rebuilt = c.request("Plant", "Boiler1", Some("plc1"), "SPEED", DataType::Double, SpValue::Double(1500.0));
    assert_eq!(rebuilt, r);
    assert!(verify(&rebuilt, &c.signature, &k.verifying_key()));
    assert!(!verify(&rebuilt, &c.signature, &key(8).verifying_key()), "another console's key");
    assert!(!verify(&rebuilt, &c.signature[..63], &k.verifying_key()), "a short signature");
    assert!(!verify(&rebuilt, &[], &k.verifying_key()));
    let named = r.to_metric(None, &k);
    assert_eq!((named.alias, named.name.as_deref()), (None, Some("SPEED")));
}

#[test]
fn the_signature_property_is_a_base64_string() {
    let m = req().to_metric(None, &key(1));
    let props = m.properties.expect("properties");
    let i = props.keys.iter().position(|k| k == PROP_SIGNATURE).expect("signature");
    let v = &props.values[i];
    assert_eq!(v.r#type, Some(DataType::String as u32));
    let Some(PropValue::StringValue(s)) = &v.value else { panic!("{v:?}") };
    assert_eq!(B64.decode(s).expect("base64").len(), 64);
    let t = props.keys.iter().position(|k| k == PROP_TIME).expect("time");
    assert_eq!(props.values[t].r#type, Some(DataType::UInt64 as u32));
}

#[test]
fn request_ids_are_128_random_bits_in_hex() {
    let (a, b) = (new_request_id().expect("random"), new_request_id().expect("random"));
    assert_eq!(a.len(), 32);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    assert_ne!(a, b);
}

#[test]
fn topics_are_dcmd_for_a_device_and_ncmd_for_the_node() {
    assert_eq!(req().topic(), "spBv1.0/Plant/DCMD/Boiler1/plc1");
    assert_eq!(WriteRequest { device: None, ..req() }.topic(), "spBv1.0/Plant/NCMD/Boiler1");
}

#[test]
fn fields_cannot_be_shifted_into_each_other() {
    let a = WriteRequest { group: "ab".into(), node: "c".into(), ..req() };
    let b = WriteRequest { group: "a".into(), node: "bc".into(), ..req() };
    assert_ne!(a.signed_bytes(), b.signed_bytes());
    let c = WriteRequest { device: None, ..req() };
    let d = WriteRequest { device: Some(String::new()), ..req() };
    assert_ne!(c.signed_bytes(), d.signed_bytes(), "no device is not an empty device");
    assert!(req().signed_bytes().starts_with(&[&(DOMAIN.len() as u64).to_be_bytes()[..], DOMAIN].concat()));
}

#[test]
fn a_small_negative_integer_signs_the_same_however_the_peer_encoded_it() {
    // The console signs Int8 -1; a peer's unextended 0xFF decodes to -1 and re-encodes the same.
    let r = WriteRequest { datatype: DataType::Int8, value: SpValue::Int(-1), ..req() };
    let sig = r.sign(&key(3));
    use super::super::codec::decode;
    use super::super::proto::payload::metric::Value as Wire;
    let read = decode(DataType::Int8, Some(&Wire::IntValue(0xFF))).expect("decodes");
    let rebuilt = WriteRequest { value: read, ..r };
    assert!(verify(&rebuilt, &sig.to_bytes(), &key(3).verifying_key()));
}

/// One field of the request changed (`which` picks it).
fn tamper(r: &WriteRequest, which: usize) -> WriteRequest {
    let mut t = r.clone();
    let more = |s: &mut String| s.push('x');
    match which {
        0 => more(&mut t.group),
        1 => more(&mut t.node),
        2 => t.device = if t.device.is_some() { None } else { Some("d".into()) },
        3 => t.device.get_or_insert_with(String::new).push('x'),
        4 => more(&mut t.metric),
        5 => {
            t.datatype = match t.datatype {
                DataType::Int32 => DataType::Int64,
                DataType::Double => DataType::Float,
                DataType::Boolean => DataType::Int8,
                _ => DataType::Text,
            }
        }
        6 => {
            t.value = match &t.value {
                SpValue::Int(i) => SpValue::Int(i ^ 1),
                SpValue::Double(d) => SpValue::Double(f64::from_bits(d.to_bits() ^ 1)),
                SpValue::Bool(b) => SpValue::Bool(!b),
                SpValue::Text(s) => SpValue::Text(format!("{s}x")),
                _ => SpValue::Bool(true),
            }
        }
        7 => more(&mut t.user),
        8 => more(&mut t.role),
        9 => more(&mut t.host),
        10 => more(&mut t.request_id),
        _ => t.time_ms ^= 1,
    }
    t
}

fn typed_value() -> impl Strategy<Value = (DataType, SpValue)> {
    prop_oneof![
        any::<i32>().prop_map(|i| (DataType::Int32, SpValue::Int(i64::from(i)))),
        any::<f64>().prop_map(|d| (DataType::Double, SpValue::Double(d))),
        any::<bool>().prop_map(|b| (DataType::Boolean, SpValue::Bool(b))),
        ".{0,20}".prop_map(|s| (DataType::String, SpValue::Text(s))),
    ]
}

fn request() -> impl Strategy<Value = WriteRequest> {
    let ids = (".{0,12}", ".{0,12}", prop::option::of(".{0,12}"), ".{0,12}");
    let claims = (".{0,12}", ".{0,12}", ".{0,12}", ".{0,12}", any::<u64>());
    (ids, typed_value(), claims).prop_map(
        |((group, node, device, metric), (datatype, value), (user, role, host, request_id, time_ms))| WriteRequest {
            group,
            node,
            device,
            metric,
            datatype,
            value,
            user,
            role,
            host,
            request_id,
            time_ms,
        },
    )
}

proptest! {
    #[test]
    fn changing_any_single_field_breaks_the_signature(r in request(), which in 0usize..12) {
        let k = key(9);
        let sig = r.sign(&k).to_bytes();
        prop_assert!(verify(&r, &sig, &k.verifying_key()));
        let t = tamper(&r, which);
        prop_assert_ne!(&t, &r);
        prop_assert!(!verify(&t, &sig, &k.verifying_key()), "field {} changed and still verified", which);
    }

    #[test]
    fn any_property_set_gives_claims_or_a_reason_without_panicking(
        keys in prop::collection::vec(prop::sample::select(vec!["user", "role", "host", "request_id", "time", "signature", "x"]), 0..10),
        texts in prop::collection::vec(".{0,100}", 10),
        longs in prop::collection::vec(any::<u64>(), 10),
        types in prop::collection::vec(0u32..20, 10),
    ) {
        let values = (0..keys.len()).map(|i| PropertyValue {
            r#type: Some(types[i]),
            is_null: None,
            value: Some(if i % 2 == 0 { PropValue::StringValue(texts[i].clone()) } else { PropValue::LongValue(longs[i]) }),
        }).collect();
        let set = PropertySet { keys: keys.iter().map(|k| k.to_string()).collect(), values };
        let _ = claims(Some(&set));
    }
}

// ----- claims --------------------------------------------------------------------------------

fn props_without(key: &str) -> PropertySet {
    let mut p = req().to_metric(None, &super::tests::key(1)).properties.expect("props");
    let i = p.keys.iter().position(|k| k == key).expect("present");
    p.keys.remove(i);
    p.values.remove(i);
    p
}

#[test]
fn missing_duplicate_or_mistyped_claims_are_refused_with_the_property_named() {
    assert_eq!(claims(None).unwrap_err(), "the metric has no properties");
    for k in [PROP_USER, PROP_ROLE, PROP_HOST, PROP_REQUEST_ID, PROP_TIME, PROP_SIGNATURE] {
        assert_eq!(claims(Some(&props_without(k))).unwrap_err(), format!("property `{k}` is missing"));
    }
    let mut twice = req().to_metric(None, &key(1)).properties.expect("props");
    twice.keys.push(PROP_USER.into());
    twice.values.push(twice.values[0].clone());
    assert_eq!(claims(Some(&twice)).unwrap_err(), "property `user` is given 2 times");
    let mut short = req().to_metric(None, &key(1)).properties.expect("props");
    short.values.pop();
    assert_eq!(claims(Some(&short)).unwrap_err(), "the properties have 6 keys but 5 values");
    let set = |key: &str, v: PropertyValue| {
        let mut p = req().to_metric(None, &super::tests::key(1)).properties.expect("props");
        let i = p.keys.iter().position(|k| k == key).expect("present");
        p.values[i] = v;
        p
    };
    let time_as_string = set(
        PROP_TIME,
        PropertyValue { r#type: Some(12), is_null: None, value: Some(PropValue::StringValue("1".into())) },
    );
    assert_eq!(claims(Some(&time_as_string)).unwrap_err(), "property `time` is not a UInt64");
    let user_as_long =
        set(PROP_USER, PropertyValue { r#type: Some(8), is_null: None, value: Some(PropValue::LongValue(1)) });
    assert_eq!(claims(Some(&user_as_long)).unwrap_err(), "property `user` is not a String");
    let null_role = set(PROP_ROLE, PropertyValue { r#type: Some(12), is_null: Some(true), value: None });
    assert_eq!(claims(Some(&null_role)).unwrap_err(), "property `role` is null");
    let text = |s: String| PropertyValue { r#type: Some(12), is_null: None, value: Some(PropValue::StringValue(s)) };
    assert_eq!(claims(Some(&set(PROP_HOST, text(String::new())))).unwrap_err(), "property `host` is empty");
    assert_eq!(
        claims(Some(&set(PROP_REQUEST_ID, text("x".repeat(257))))).unwrap_err(),
        "property `request_id` is longer than 256 bytes"
    );
    assert_eq!(
        claims(Some(&set(PROP_SIGNATURE, text("not base64!".into())))).unwrap_err(),
        "property `signature` is not base64"
    );
    assert_eq!(
        claims(Some(&set(PROP_SIGNATURE, text(B64.encode([0u8; 32]))))).unwrap_err(),
        "property `signature` holds 32 bytes, not an Ed25519 signature (64)"
    );
}

// ----- replay --------------------------------------------------------------------------------

const NOW: u64 = 1_700_000_000_000;

#[test]
fn a_time_exactly_30_s_either_way_is_accepted() {
    let mut r = Replay::new(REPLAY_WINDOW);
    assert_eq!(r.check("a", NOW - 30_000, NOW), Ok(()));
    assert_eq!(r.check("b", NOW + 30_000, NOW), Ok(()));
    assert_eq!(r.check("c", NOW, NOW), Ok(()));
}

#[test]
fn a_time_30_001_s_either_way_is_refused() {
    let mut r = Replay::new(REPLAY_WINDOW);
    let e = r.check("a", NOW - 30_001, NOW).unwrap_err();
    assert!(e.starts_with("its time is 30.001 s behind this gateway's clock (at most 30.000 s either way)"), "{e}");
    let e = r.check("b", NOW + 30_001, NOW).unwrap_err();
    assert!(e.starts_with("its time is 30.001 s ahead of this gateway's clock"), "{e}");
    assert!(r.is_empty(), "a refused request is not remembered");
    assert!(r.check("c", 0, NOW).is_err() && r.check("d", u64::MAX, NOW).is_err(), "extremes, no overflow");
}

#[test]
fn a_request_id_seen_before_is_refused() {
    let mut r = Replay::new(REPLAY_WINDOW);
    assert_eq!(r.check("r-1", NOW, NOW), Ok(()));
    let e = r.check("r-1", NOW + 1, NOW + 1).unwrap_err();
    assert_eq!(e, "request id `r-1` was used before: a replayed command");
    // Still refused at the last moment its time is valid.
    assert!(r.check("r-1", NOW, NOW + 30_000).is_err());
    assert_eq!(r.check("r-2", NOW, NOW + 1), Ok(()));
}

#[test]
fn ids_are_forgotten_once_their_time_is_outside_the_window() {
    let mut r = Replay::new(REPLAY_WINDOW);
    for i in 0..1000u64 {
        r.check(&format!("id-{i}"), NOW + i, NOW + i).expect("fresh");
    }
    assert_eq!(r.len(), 1000);
    // 30 s after the last one, all but those within the window are gone.
    assert_eq!(r.check("late", NOW + 30_999, NOW + 30_999), Ok(()));
    assert_eq!(r.len(), 1000 - 999 + 1, "only id-999 (time NOW+999) is still valid");
    // A forgotten id is refused for its time anyway.
    assert!(r.check("id-0", NOW, NOW + 30_999).unwrap_err().contains("behind"));
}

#[test]
fn a_full_memory_refuses_new_requests_rather_than_forgetting() {
    let mut r = Replay::with_capacity(REPLAY_WINDOW, 3);
    for id in ["a", "b", "c"] {
        r.check(id, NOW, NOW).expect("room");
    }
    let e = r.check("d", NOW, NOW).unwrap_err();
    assert!(e.starts_with("3 write requests arrived within 30 s"), "{e}");
    assert_eq!(r.check("a", NOW, NOW + 1).unwrap_err(), "request id `a` was used before: a replayed command");
    // Once the window has passed them, there is room again.
    assert_eq!(r.check("d", NOW + 30_001, NOW + 30_001), Ok(()));
    assert_eq!(r.len(), 1);
}

#[test]
fn a_hostile_request_id_is_cleaned_in_the_message() {
    let mut r = Replay::new(REPLAY_WINDOW);
    r.check("x\u{1b}[2J", NOW, NOW).expect("fresh");
    let e = r.check("x\u{1b}[2J", NOW, NOW).unwrap_err();
    assert!(!e.contains('\u{1b}'), "{e:?}");
}

// ----- the key file --------------------------------------------------------------------------

fn mode_of(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o7777
}

fn chmod(p: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[test]
fn the_key_is_made_once_private_and_read_back_equal() {
    let d = dir("once");
    let p = d.join("state").join("command-key");
    let (k1, made) = load_or_create_key(&p).expect("made");
    assert!(made);
    assert_eq!(mode_of(&p), 0o600);
    assert!(key_path().ends_with(KEY_FILE));
    let (k2, made) = load_or_create_key(&p).expect("read");
    assert!(!made);
    assert_eq!(k1.to_bytes(), k2.to_bytes());
    let text = std::fs::read_to_string(&p).expect("text");
    assert!(text.starts_with("ttyhmi-ed25519-secret ") && text.ends_with('\n'), "{text}");
    let left: Vec<_> = std::fs::read_dir(p.parent().expect("dir")).expect("ls").collect();
    assert_eq!(left.len(), 1, "no staged file left behind");
    // Two keys made in two folders differ (random, not a constant).
    let (k3, _) = load_or_create_key(&d.join("other").join("command-key")).expect("made");
    assert_ne!(k1.to_bytes(), k3.to_bytes());
    std::fs::remove_dir_all(&d).expect("clean");
}

#[test]
fn a_key_file_readable_by_group_or_others_is_refused_with_the_fix() {
    let d = dir("exposed");
    let p = d.join("command-key");
    load_or_create_key(&p).expect("made");
    for (mode, who) in [(0o640, "its group"), (0o604, "others"), (0o644, "others")] {
        chmod(&p, mode);
        let e = load_or_create_key(&p).expect_err("refused").to_string();
        assert!(e.contains(&format!("can be read by {who} (mode {mode:04o})")), "{e}");
        assert!(e.contains(&format!("chmod 600 {}", p.display())), "{e}");
    }
    chmod(&p, 0o400);
    assert!(load_or_create_key(&p).is_ok(), "read-only for its owner is fine");
    std::fs::remove_dir_all(&d).expect("clean");
}

#[test]
fn a_damaged_key_file_is_an_error_naming_it_and_is_kept() {
    let d = dir("damaged");
    std::fs::create_dir_all(&d).expect("dir");
    let p = d.join("command-key");
    let cases: [(&[u8], &str); 6] = [
        (b"", "expected one line"),
        (b"garbage\n", "expected one line"),
        (b"ssh-ed25519 AAAA\n", "does not start with `ttyhmi-ed25519-secret`"),
        (b"ttyhmi-ed25519-secret !!!\n", "not base64"),
        (b"ttyhmi-ed25519-secret AAAA\n", "not 32 bytes"),
        (b"\xff\xfe\n", "not text"),
    ];
    for (content, why) in cases {
        std::fs::write(&p, content).expect("write");
        chmod(&p, 0o600);
        let e = load_or_create_key(&p).expect_err("damaged").to_string();
        assert!(e.contains(&p.display().to_string()) && e.contains("is damaged") && e.contains(why), "{e}");
        assert_eq!(std::fs::read(&p).expect("kept"), content, "never replaced");
    }
    std::fs::remove_dir_all(&d).expect("clean");
}

#[test]
fn a_key_path_that_is_a_folder_or_a_fifo_is_refused() {
    let d = dir("notfile");
    std::fs::create_dir_all(d.join("command-key")).expect("dir");
    let e = load_or_create_key(&d.join("command-key")).expect_err("folder").to_string();
    assert!(e.contains("this is a folder"), "{e}");
    let fifo = d.join("fifo");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("fifo");
    assert!(load_or_create_key(&fifo).expect_err("fifo").to_string().contains("FIFO"));
    std::fs::remove_dir_all(&d).expect("clean");
}

// ----- public key lines ----------------------------------------------------------------------

#[test]
fn the_public_line_round_trips_with_any_spacing() {
    let k = key(5).verifying_key();
    let line = public_line(&k);
    assert!(line.starts_with("ttyhmi-ed25519 ") && !line.contains('\n'));
    assert_eq!(line.split(' ').nth(1).map(str::len), Some(44));
    assert_eq!(parse_public_line(&line), Ok(k));
    let spaced = format!("  \t{}\t  {}  \n", PUBLIC_PREFIX, line.split(' ').nth(1).expect("b64"));
    assert_eq!(parse_public_line(&spaced), Ok(k));
}

#[test]
fn hostile_public_lines_are_refused_with_what_is_wrong() {
    let b64 = B64.encode(key(5).verifying_key().as_bytes());
    let cases = [
        (String::new(), "the key line is empty"),
        ("   \n".to_string(), "the key line is empty"),
        ("ttyhmi-ed25519".to_string(), "has no key after"),
        (format!("ssh-ed25519 {b64}"), "starts with `ssh-ed25519`, not `ttyhmi-ed25519`"),
        (format!("TTYHMI-ED25519 {b64}"), "not `ttyhmi-ed25519`"),
        (format!("ttyhmi-ed25519 {b64} comment"), "has 3 words"),
        ("ttyhmi-ed25519 AAAA".to_string(), "is 3 bytes, not 32"),
        (format!("ttyhmi-ed25519 {}", B64.encode([0u8; 33])), "is 33 bytes, not 32"),
        ("ttyhmi-ed25519 ****".to_string(), "not base64"),
        (format!("ttyhmi-ed25519 {}", &b64[..43]), "not base64"),
        // The identity point (small order): a weak key.
        (
            format!(
                "ttyhmi-ed25519 {}",
                B64.encode({
                    let mut b = [0u8; 32];
                    b[0] = 1;
                    b
                })
            ),
            "weak",
        ),
    ];
    for (line, want) in cases {
        let e = parse_public_line(&line).expect_err(&line);
        assert!(e.contains(want), "{line:?}: {e}");
    }
    let e = parse_public_line("\u{1b}[31mevil x").unwrap_err();
    assert!(!e.contains('\u{1b}'), "{e:?}");
}
