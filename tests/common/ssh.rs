//! An SSH client in-process (russh) for the console server's tests: log in with a key, open a
//! shell with a pty, read the screen through a vt100 parser, type keys.

use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use russh::ChannelMsg;
use russh::client::{self, Handle};
use russh::keys::ssh_key::private::Ed25519Keypair;
use russh::keys::{PrivateKey, PrivateKeyWithHashAlg, PublicKeyOrCertificate};

pub struct Client;

impl client::Handler for Client {
    type Error = russh::Error;

    async fn check_server_key(&mut self, _key: &PublicKeyOrCertificate) -> Result<bool, Self::Error> {
        Ok(true)
    }
}

/// A key made from `seed` (the same seed, the same key).
pub fn key(seed: u8) -> PrivateKey {
    PrivateKey::from(Ed25519Keypair::from_seed(&[seed; 32]))
}

/// Its line for a users file.
pub fn public_line(key: &PrivateKey, comment: &str) -> String {
    format!("{} {comment}", key.public_key().to_openssh().expect("a public key"))
}

pub async fn connect(addr: std::net::SocketAddr) -> Handle<Client> {
    let config = Arc::new(client::Config::default());
    client::connect(config, addr, Client).await.expect("the server takes the connection")
}

/// Logs in as `user` with `key`: whether the server accepted it.
pub async fn login(h: &mut Handle<Client>, user: &str, key: &PrivateKey) -> bool {
    let key = PrivateKeyWithHashAlg::new(Arc::new(key.clone()), None);
    h.authenticate_publickey(user, key).await.map(|r| r.success()).unwrap_or(false)
}

/// A session channel with a pty and a shell: a console on screen.
pub struct Term {
    pub h: Handle<Client>,
    pub ch: russh::Channel<client::Msg>,
    pub screen: vt100::Parser,
    /// Messages with screen bytes received.
    pub frames: usize,
    pub closed: bool,
    pub exit: Option<u32>,
    pub stderr: Vec<u8>,
    pub bytes: usize,
}

impl Term {
    pub async fn open(addr: std::net::SocketAddr, user: &str, key: &PrivateKey, cols: u16, rows: u16) -> Term {
        let mut h = connect(addr).await;
        assert!(login(&mut h, user, key).await, "{user} logs in");
        let ch = h.channel_open_session().await.expect("a session channel");
        ch.request_pty(true, "xterm-256color", u32::from(cols), u32::from(rows), 0, 0, &[]).await.expect("pty");
        ch.request_shell(true).await.expect("shell");
        let nz = |n| NonZeroU16::new(n).expect("not zero");
        Term {
            h,
            ch,
            screen: vt100::Parser::new(nz(rows), nz(cols), 0),
            frames: 0,
            closed: false,
            exit: None,
            stderr: Vec::new(),
            bytes: 0,
        }
    }

    /// Reads what arrives for up to `d`.
    pub async fn pump(&mut self, d: Duration) {
        let end = tokio::time::Instant::now() + d;
        while !self.closed {
            match tokio::time::timeout_at(end, self.ch.wait()).await {
                Ok(Some(m)) => self.take(m),
                Ok(None) => self.closed = true,
                Err(_) => break,
            }
        }
    }

    fn take(&mut self, m: ChannelMsg) {
        match m {
            ChannelMsg::Data { data } => {
                self.frames += 1;
                self.bytes += data.len();
                self.screen.process(&data);
            }
            ChannelMsg::ExtendedData { data, .. } => self.stderr.extend_from_slice(&data),
            ChannelMsg::ExitStatus { exit_status } => self.exit = Some(exit_status),
            ChannelMsg::Close => self.closed = true,
            _ => {}
        }
    }

    pub fn text(&self) -> String {
        self.screen.screen().contents()
    }

    /// Waits (up to 15 s) until the screen shows what `ok` looks for.
    pub async fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(15);
        loop {
            let text = self.text();
            if ok(&text) {
                return text;
            }
            assert!(!self.closed, "{what}: the channel closed; the screen:\n{text}");
            assert!(Instant::now() < deadline, "{what}: not on screen within 15 s:\n{text}");
            self.pump(Duration::from_millis(50)).await;
        }
    }

    pub async fn keys(&mut self, bytes: &[u8]) {
        self.ch.data_bytes(bytes.to_vec()).await.expect("keys sent");
        self.pump(Duration::from_millis(30)).await;
    }

    /// Waits (up to 15 s) until the server closes the channel.
    pub async fn wait_closed(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(15);
        while !self.closed {
            assert!(Instant::now() < deadline, "the channel did not close:\n{}", self.text());
            self.pump(Duration::from_millis(50)).await;
        }
    }
}
