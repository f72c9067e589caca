//! Sparkplug B end to end: the gateway on the simulated plant publishes to an in-process broker
//! (rumqttd, behind a relay the tests cut and switch), consoles read the broker.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use common::TempDir;
use common::sparkplug::{Console, Spy, console_layout, consoles_file, gateway_layout, good, records, start_gateway};
use ttyhmi::sim::broker::{self, Relay};
use ttyhmi::tag::{Quality, Reason, Value};

fn new_broker() -> SocketAddr {
    broker::start("127.0.0.1:0".parse().unwrap()).expect("the in-process broker starts")
}

fn stale(q: &Quality) -> bool {
    *q == Quality::Uncertain(Reason::Stale)
}

#[test]
fn the_gateway_feeds_a_console_and_its_will_makes_the_values_stale() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-feed");
    rt.block_on(async {
        let relay = Relay::start(new_broker()).await.unwrap();
        let spy = Spy::start(relay.addr, "spy").await;
        let gw = start_gateway(gateway_layout(sim.modbus_addr.port(), relay.addr.port()), &dir.0, None);
        let mut console = Console::start(console_layout(relay.addr.port(), "room-1"), &dir.0, "console");
        console
            .until(20, "the console reads the plant through the broker", |p| good(p, "P_101") && good(p, "COUNT"))
            .await;
        assert_eq!(sim.connections(), 1, "only the gateway polls the PLC");
        // The console's value is the PLC's: COUNT counts on.
        let count = |c: &Console| {
            c.runtime.plant.store.get(c.runtime.plant.layout.tag_id("COUNT").unwrap()).unwrap().value.clone()
        };
        let first = count(&console);
        console
            .until(5, "COUNT changes", |p| p.store.get(p.layout.tag_id("COUNT").unwrap()).unwrap().value != first)
            .await;
        // A metric the node never had says so, by name.
        match console.quality("NOPE") {
            Quality::Bad(r) => assert!(r.to_string().contains("NOT_BORN"), "{r}"),
            q => panic!("a metric never born reads {q}"),
        }
        // The spy hears what the console heard (a moment later, maybe).
        spy.wait("/DDATA/Boiler1/plc1", 1, 5).await;
        assert!(spy.count("/NBIRTH/Boiler1") >= 1 && spy.count("/DBIRTH/Boiler1/plc1") >= 1);
        assert_eq!(spy.count("STATE/room-1"), 1, "the console said it is online (retained)");

        // Killed without a word: no NDEATH from the gateway, the broker publishes its Will.
        gw.task.abort();
        console
            .until(10, "the Will makes every value stale", |p| {
                ["P_101", "COUNT"].iter().all(|n| stale(&p.store.get(p.layout.tag_id(n).unwrap()).unwrap().quality))
            })
            .await;
        spy.wait("/NDEATH/Boiler1", 1, 5).await;
        assert_eq!(spy.count("/NDEATH/Boiler1"), 1, "exactly the Will");
        let kept = console.runtime.plant.store.get(console.runtime.plant.layout.tag_id("P_101").unwrap()).unwrap();
        assert!(kept.value.is_some(), "the last value stays visible, marked stale");
        console.runtime.stop().await;
    });
}

#[test]
fn a_broker_restart_and_a_late_console_recover_through_births() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-restart");
    rt.block_on(async {
        let relay = Relay::start(new_broker()).await.unwrap();
        let gw = start_gateway(gateway_layout(sim.modbus_addr.port(), relay.addr.port()), &dir.0, None);
        let spy = Spy::start(relay.addr, "spy").await;
        // Data flows before the console comes: it joins mid-session.
        tokio::time::timeout(Duration::from_secs(20), async {
            while spy.count("/DDATA/") < 3 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
        .await
        .expect("data flows");
        let births_before = spy.count("/NBIRTH/");
        let mut console = Console::start(console_layout(relay.addr.port(), "late"), &dir.0, "late");
        console.until(20, "a late console gets values", |p| good(p, "P_101")).await;
        spy.wait("/NBIRTH/", births_before + 1, 5).await;
        console.run_for(500).await;
        assert_eq!(spy.count("/NCMD/Boiler1"), 1, "one rebirth request, no storm");
        assert_eq!(spy.count("/NBIRTH/"), births_before + 1, "one rebirth");

        // The broker restarts: a new one, with no session, subscription or retained message.
        let second = new_broker();
        relay.switch(second);
        console
            .until(10, "losing the broker makes values stale", |p| {
                matches!(
                    p.store.get(p.layout.tag_id("P_101").unwrap()).unwrap().quality,
                    Quality::Uncertain(Reason::Stale)
                )
            })
            .await;
        console
            .until(30, "both reconnect and the values are good again", |p| good(p, "P_101") && good(p, "COUNT"))
            .await;
        let _ = gw.stop.send(true);
        let _ = gw.task.await;
        console
            .until(10, "a clean stop (NDEATH) makes the values stale", |p| {
                matches!(
                    p.store.get(p.layout.tag_id("P_101").unwrap()).unwrap().quality,
                    Quality::Uncertain(Reason::Stale)
                )
            })
            .await;
        console.runtime.stop().await;
    });
}

#[test]
fn a_signed_write_goes_through_the_gateway_with_records_at_both_ends() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-write");
    rt.block_on(async {
        let relay = Relay::start(new_broker()).await.unwrap();
        let consoles = consoles_file(&dir.0, &dir.0.join("command_key"), "room-1", "operator");
        let gw = start_gateway(gateway_layout(sim.modbus_addr.port(), relay.addr.port()), &dir.0, Some(&consoles));
        let mut console = Console::start(console_layout(relay.addr.port(), "room-1"), &dir.0, "console");
        let sp = console.runtime.plant.layout.tag_id("PIC_101_SP").unwrap();
        console.until(20, "the setpoint is born", |p| good(p, "PIC_101_SP") && p.data_types.contains_key(&sp)).await;
        let old = console.runtime.plant.store.get(sp).unwrap().value.as_ref().and_then(|v| v.as_f64()).unwrap();
        let new = if old > 5.0 { old - 1.5 } else { old + 1.5 };
        let fc16 = sim.function_counts().get(&16).copied().unwrap_or(0);
        console.write("PIC_101_SP", Value::Float(new), "alice", "operator");
        let (tag, result) = console.answer(15).await;
        assert_eq!(tag, sp);
        let done = result.expect("written");
        assert!(done.confirmed(), "{done:?}");
        assert!(sim.function_counts().get(&16).copied().unwrap_or(0) > fc16, "the gateway wrote the PLC");
        console
            .until(5, "the new value comes back through the broker", |p| {
                p.store.get(sp).unwrap().value.as_ref().and_then(|v| v.as_f64()) == Some(new)
            })
            .await;
        // Both ends on record: the console's attempt, the gateway's attempt and result, by alice.
        let mine = records(&console.audit);
        assert!(mine.iter().any(|r| r["action"] == "write_attempt" && r["user"] == "alice"), "{mine:?}");
        let theirs = records(&gw.audit);
        for action in ["write_attempt", "write_result"] {
            let r = theirs
                .iter()
                .find(|r| r["action"] == action)
                .unwrap_or_else(|| panic!("no {action} at the gateway: {theirs:?}"));
            assert_eq!(
                (r["user"].as_str(), r["role"].as_str(), r["tag"].as_str()),
                (Some("alice"), Some("operator"), Some("PIC_101_SP"))
            );
            assert!(r.to_string().contains("room-1"), "the console is named: {r}");
        }
        assert_eq!(theirs.iter().find(|r| r["action"] == "write_result").unwrap()["result"], "ok");

        // Above the console's max_role (operator): refused at the gateway, on record, answered.
        let writes =
            || sim.function_counts().into_iter().filter(|(fc, _)| [5, 6, 15, 16, 22].contains(fc)).collect::<Vec<_>>();
        let fc = writes();
        console.write("TIC_102_SP", Value::Float(100.0), "eve", "engineer");
        let (_, result) = console.answer(15).await;
        let why = result.expect_err("refused").to_string();
        assert!(why.contains("gateway refused") && why.contains("at most `operator`"), "{why}");
        assert_eq!(writes(), fc, "no write reached the PLC");
        let theirs = records(&gw.audit);
        assert!(theirs.iter().any(|r| r["action"] == "write_denied" && r["user"] == "eve"), "{theirs:?}");
        let _ = gw.stop.send(true);
        let _ = gw.task.await;
        console.runtime.stop().await;
    });
}

/// The gateway as shipped: `ttyhmi gateway LAYOUT` publishes, `ttyhmi key` prints a key line a
/// consoles file takes, and SIGTERM publishes NDEATH before the process exits 0.
#[test]
fn the_gateway_command_publishes_and_says_goodbye_on_sigterm() {
    let (rt, sim) = common::plant();
    let dir = TempDir::new("sp-process");
    let env = |c: &mut std::process::Command| {
        c.env("XDG_STATE_HOME", dir.0.join("state"))
            .env("XDG_DATA_HOME", dir.0.join("data"))
            .env("XDG_CONFIG_HOME", dir.0.join("config"));
    };
    let mut key = std::process::Command::new(common::BIN);
    key.arg("key");
    env(&mut key);
    let out = key.output().expect("ttyhmi key runs");
    let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
    assert!(out.status.success() && line.starts_with("ttyhmi-ed25519 "), "{line}");
    assert!(ttyhmi::driver::sparkplug::command::parse_public_line(&line).is_ok(), "the line parses: {line}");
    let again = key.output().expect("ttyhmi key runs");
    assert_eq!(String::from_utf8_lossy(&again.stdout).trim(), line, "the key is made once");

    rt.block_on(async {
        let broker = new_broker();
        let spy = Spy::start(broker, "spy").await;
        let layout = dir.0.join("gw.yaml");
        std::fs::write(
            &layout,
            format!(
                "publish: {{ sparkplug: {{ host: 127.0.0.1, port: {}, group: Plant, node: Boiler1 }} }}\nconnections:\n  plc1: {{ modbus_tcp: {{ host: 127.0.0.1, port: {}, unit: 1 }}, poll: 200ms }}\ntags:\n  COUNT: {{ source: plc1, holding: 100, type: u16 }}\n",
                broker.port(),
                sim.modbus_addr.port()
            ),
        )
        .unwrap();
        let mut gw = std::process::Command::new(common::BIN);
        gw.arg("gateway").arg(&layout).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped());
        env(&mut gw);
        let child = gw.spawn().expect("ttyhmi gateway starts");
        spy.wait("/DDATA/Boiler1/plc1", 2, 30).await;
        assert_eq!(spy.count("/NDEATH/"), 0);
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
        let out = tokio::task::spawn_blocking(move || child.wait_with_output()).await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "exit 0 on SIGTERM: {text}{}", String::from_utf8_lossy(&out.stderr));
        assert!(text.contains("Plant/Boiler1") && text.contains("stopped (SIGTERM)"), "{text}");
        spy.wait("/NDEATH/Boiler1", 1, 5).await;
        let bd = std::fs::read_to_string(dir.0.join("state/ttyhmi/sparkplug-Plant-Boiler1.bdseq")).expect("the bdSeq is kept");
        assert_eq!(bd.trim(), "0", "the first connection's bdSeq");
    });
}
