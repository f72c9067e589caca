//! One MQTT 3.1.1 connection (rumqttc) to a broker as a layout describes it: clean session, a
//! raised packet size, the Will, TLS through rustls (ring) with the layout's CA and optional
//! client certificate, and the login with its password from a file or a variable.
//!
//! A connection is used once: when it breaks, its client and event loop are dropped and the next
//! attempt makes new ones, so nothing queued for the old connection (a command, an old DDATA)
//! can ever be sent on the new one.

use std::sync::Arc;
use std::time::Duration;

use rumqttc::{AsyncClient, ConnectionError, Event, EventLoop, LastWill, MqttOptions, Packet, QoS, Transport};

use super::{MAX_PACKET, Publish};
use crate::layout::{MqttBroker, MqttTls};

/// Keepalive: a broker or link that died is noticed within one and a half of these.
pub const KEEP_ALIVE: Duration = Duration::from_secs(10);
/// Requests waiting for the event loop (publishes and subscriptions) at most.
const REQUESTS: usize = 4096;
/// A TLS file larger than this is not a certificate or a key.
const MAX_PEM_BYTES: u64 = 1 << 20;

/// An open connection: the client to publish with and the event loop to poll.
pub struct Connection {
    pub client: AsyncClient,
    pub events: EventLoop,
}

/// QoS from its number (0, 1; anything else is 1).
pub fn qos(n: u8) -> QoS {
    if n == 0 { QoS::AtMostOnce } else { QoS::AtLeastOnce }
}

/// The options of a connection to `broker` as `client_id`, with `will`.
pub fn options(broker: &MqttBroker, client_id: &str, will: Option<&Publish>) -> Result<MqttOptions, String> {
    let mut o = MqttOptions::new(client_id, broker.host.clone(), broker.port);
    o.set_clean_session(true);
    o.set_keep_alive(KEEP_ALIVE);
    o.set_max_packet_size(MAX_PACKET, MAX_PACKET);
    o.set_request_channel_capacity(REQUESTS);
    o.set_inflight(100);
    if let Some(w) = will {
        o.set_last_will(LastWill::new(w.topic.clone(), w.payload.clone(), qos(w.qos), w.retain));
    }
    if let Some(login) = &broker.login {
        let password = crate::driver::secret::read(&login.password, &login.username)?;
        o.set_credentials(login.username.clone(), password);
    }
    if let Some(tls) = &broker.tls {
        o.set_transport(Transport::tls_with_config(rumqttc::TlsConfiguration::Rustls(Arc::new(tls_config(tls)?))));
    }
    Ok(o)
}

/// Connects and waits for the broker's CONNACK (at most `timeout`).
pub async fn connect(
    broker: &MqttBroker,
    client_id: &str,
    will: Option<&Publish>,
    timeout: Duration,
) -> Result<Connection, String> {
    let (client, mut events) = AsyncClient::new(options(broker, client_id, will)?, REQUESTS);
    let wait = async {
        loop {
            match events.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(words(&e)),
            }
        }
    };
    match tokio::time::timeout(timeout, wait).await {
        Ok(Ok(())) => Ok(Connection { client, events }),
        Ok(Err(why)) => Err(format!("{why} ({})", broker.endpoint())),
        Err(_) => Err(format!("no answer from the broker within {} s ({})", timeout.as_secs(), broker.endpoint())),
    }
}

/// Hands `p` to the connection without waiting (never blocks the task that polls the event
/// loop); says why when it cannot.
pub fn publish(client: &AsyncClient, p: Publish) -> Result<(), String> {
    client.try_publish(p.topic, qos(p.qos), p.retain, p.payload).map_err(|e| format!("cannot publish: {e}"))
}

/// A connection error in the operator's words.
pub fn words(e: &ConnectionError) -> String {
    match e {
        ConnectionError::Io(io) => crate::driver::io_words(io),
        ConnectionError::ConnectionRefused(code) => format!("the broker refused the connection ({code:?})"),
        ConnectionError::NetworkTimeout => "timeout".into(),
        ConnectionError::Tls(t) => format!("TLS: {t}"),
        ConnectionError::MqttState(s) => format!("the connection broke: {s}"),
        other => other.to_string(),
    }
}

/// The rustls client configuration: the CA file's certificates as the only roots, and the client
/// certificate and key when given.
fn tls_config(tls: &MqttTls) -> Result<rustls::ClientConfig, String> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs(&tls.ca)? {
        roots.add(cert).map_err(|e| format!("{}: {e}", tls.ca.display()))?;
    }
    // ring, not aws-lc: no C library in the build (as for SSH).
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .with_root_certificates(roots);
    match (&tls.client_cert, &tls.client_key) {
        (Some(cert), Some(key)) => {
            let key = private_key(key)?;
            builder.with_client_auth_cert(certs(cert)?, key).map_err(|e| format!("{}: {e}", cert.display()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

fn pem(path: &std::path::Path) -> Result<Vec<u8>, String> {
    crate::files::read_regular(path, MAX_PEM_BYTES).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn certs(path: &std::path::Path) -> Result<Vec<rustls::pki_types::CertificateDer<'static>>, String> {
    let bytes = pem(path)?;
    let certs: Result<Vec<_>, _> = rustls_pemfile::certs(&mut bytes.as_slice()).collect();
    let certs = certs.map_err(|e| format!("{}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}

fn private_key(path: &std::path::Path) -> Result<rustls::pki_types::PrivateKeyDer<'static>, String> {
    let bytes = pem(path)?;
    rustls_pemfile::private_key(&mut bytes.as_slice())
        .map_err(|e| format!("{}: {e}", path.display()))?
        .ok_or_else(|| format!("{} holds no PEM private key", path.display()))
}
