//! An in-process MQTT 3.1.1 broker (rumqttd) for `ttyhmi demo --mqtt` and the tests, and a
//! [`Relay`] in front of it that tests use to cut every client off, stall, or "restart" the
//! broker (point the relay at a new broker, which knows no session, subscription or retained
//! message of the old one).
//!
//! rumqttd binds the address it is given and cannot say which port it got, so [`start`] picks a
//! free loopback port first; it runs in its own threads until the process ends.

use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// The largest MQTT payload the broker takes (Sparkplug births of thousands of metrics).
const MAX_PAYLOAD: usize = 4 << 20;

/// Starts a broker on `host` (port 0: a free one) and waits until it accepts connections.
pub fn start(listen: SocketAddr) -> std::io::Result<SocketAddr> {
    let addr = if listen.port() == 0 { StdListener::bind(listen)?.local_addr()? } else { listen };
    let config = config(addr);
    std::thread::Builder::new().name("mqtt-broker".into()).spawn(move || {
        let mut broker = rumqttd::Broker::new(config);
        if let Err(e) = broker.start() {
            tracing::error!("the in-process MQTT broker stopped: {e}");
        }
    })?;
    for _ in 0..500 {
        if std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)).is_ok() {
            return Ok(addr);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Err(std::io::Error::other(format!("the in-process MQTT broker did not start on {addr}")))
}

fn config(addr: SocketAddr) -> rumqttd::Config {
    let connections = rumqttd::ConnectionSettings {
        connection_timeout_ms: 60_000,
        max_payload_size: MAX_PAYLOAD,
        max_inflight_count: 500,
        auth: None,
        external_auth: None,
        dynamic_filters: true,
    };
    let server = rumqttd::ServerSettings {
        name: "v4".into(),
        listen: addr,
        tls: None,
        next_connection_delay_ms: 0,
        connections,
    };
    rumqttd::Config {
        id: 0,
        router: rumqttd::RouterConfig {
            max_connections: 10_010,
            max_outgoing_packet_count: 2_000,
            max_segment_size: 100 << 20,
            max_segment_count: 10,
            ..Default::default()
        },
        v4: Some(HashMap::from([("v4".to_string(), server)])),
        ..Default::default()
    }
}

/// A TCP relay on a loopback port of its own in front of a broker: clients connect to
/// [`Relay::addr`]. [`Relay::cut`] drops every connection (and refuses new ones until
/// [`Relay::resume`]); [`Relay::switch`] points it at another broker.
pub struct Relay {
    pub addr: SocketAddr,
    target: Arc<Mutex<SocketAddr>>,
    /// Bumped by `cut`: every connection made before ends.
    epoch: watch::Sender<(u64, bool)>,
}

impl Relay {
    pub async fn start(target: SocketAddr) -> std::io::Result<Relay> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let target = Arc::new(Mutex::new(target));
        let (epoch, rx) = watch::channel((0, true));
        let t = target.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (epoch_now, open) = *rx.borrow();
                if !open {
                    continue;
                }
                let to = *t.lock().unwrap_or_else(|p| p.into_inner());
                let mut rx = rx.clone();
                tokio::spawn(async move {
                    let Ok(server) = TcpStream::connect(to).await else { return };
                    let (mut client, mut server) = (client, server);
                    tokio::select! {
                        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
                        _ = rx.wait_for(|(e, _)| *e != epoch_now) => {}
                    }
                });
            }
        });
        Ok(Relay { addr, target, epoch })
    }

    /// Drops every connection through the relay and refuses new ones.
    pub fn cut(&self) {
        self.epoch.send_modify(|(e, open)| {
            *e += 1;
            *open = false;
        });
    }

    /// Takes connections again.
    pub fn resume(&self) {
        self.epoch.send_modify(|(_, open)| *open = true);
    }

    /// Drops every connection and sends new ones to `target`.
    pub fn switch(&self, target: SocketAddr) {
        *self.target.lock().unwrap_or_else(|p| p.into_inner()) = target;
        self.epoch.send_modify(|(e, open)| {
            *e += 1;
            *open = true;
        });
    }
}
