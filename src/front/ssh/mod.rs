//! The console server's SSH front (russh): public-key logins only, one session per shell
//! channel with a pty. Exec requests, subsystems (sftp), port, agent and X11 forwarding are
//! refused; window changes resize the session; `TERM` and `NO_COLOR` are honoured. Each channel's
//! keys go to its session through the hub; its frames come back through a [`Remote`] screen.

pub mod host_key;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use russh::keys::PrivateKey;
use russh::server::{Auth, ChannelOpenHandle, Config, Handler, Msg as SshMsg, Session as SshSession};
use russh::{Channel, ChannelId, ChannelOpenFailure, MethodKind, MethodSet, Pty};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use super::gate::{Gate, Looks};
use super::hub::{Join, ToHub};
use super::keys::KeyParser;
use super::remote::{Link, Remote, Wire};
use crate::auth::PublicKey;
use crate::plant::SessionId;
use crate::session::msg::Msg;

/// Connections served at once; more are closed at once.
pub const MAX_CONNECTIONS: usize = 256;
/// Session channels per connection.
const MAX_CHANNELS: usize = 4;
/// A connection that has not logged in by then is closed.
const LOGIN_GRACE: Duration = Duration::from_secs(60);

/// The server's SSH settings: public key only, no inactivity timeout (a control-room screen
/// stays up), keepalives to find dead links.
pub fn config(key: PrivateKey) -> Config {
    Config {
        methods: MethodSet::from(&[MethodKind::PublicKey][..]),
        auth_rejection_time: Duration::from_millis(300),
        // OpenSSH asks with "none" first to learn the methods.
        auth_rejection_time_initial: Some(Duration::ZERO),
        keys: vec![key],
        inactivity_timeout: None,
        keepalive_interval: Some(Duration::from_secs(30)),
        keepalive_max: 3,
        nodelay: true,
        max_auth_attempts: 6,
        ..Default::default()
    }
}

/// What every connection shares.
#[derive(Clone)]
pub struct SshFront {
    pub hub: mpsc::Sender<ToHub>,
    pub gate: Arc<Gate>,
}

/// Accepts connections until the listener fails; each runs on a task of its own.
pub async fn listen(listener: TcpListener, config: Arc<Config>, front: SshFront) {
    let open = Arc::new(AtomicUsize::new(0));
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(s) => s,
            Err(e) => {
                tracing::warn!("SSH: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
            tracing::warn!("SSH: {peer} refused: {MAX_CONNECTIONS} connections already");
            continue;
        }
        let _ = socket.set_nodelay(true);
        open.fetch_add(1, Ordering::Relaxed);
        let (config, front, open) = (config.clone(), front.clone(), open.clone());
        tokio::spawn(async move {
            serve_connection(socket, peer, config, front).await;
            open.fetch_sub(1, Ordering::Relaxed);
        });
    }
}

async fn serve_connection(socket: tokio::net::TcpStream, peer: SocketAddr, config: Arc<Config>, front: SshFront) {
    let logged_in = Arc::new(AtomicBool::new(false));
    let conn = Conn { front, peer, who: None, logged_in: logged_in.clone(), channels: HashMap::new() };
    let running = match russh::server::run_stream(config, socket, conn).await {
        Ok(r) => r,
        Err(e) => return tracing::info!("SSH: {peer}: {e}"),
    };
    let handle = running.handle();
    tokio::spawn(async move {
        tokio::time::sleep(LOGIN_GRACE).await;
        if !logged_in.load(Ordering::Relaxed) {
            tracing::info!("SSH: {peer} did not log in within {} s", LOGIN_GRACE.as_secs());
            let _ = handle.disconnect(russh::Disconnect::ByApplication, "login timed out".into(), "en".into()).await;
        }
    });
    if let Err(e) = running.await {
        tracing::info!("SSH: {peer}: connection ended: {e}");
    }
}

/// One SSH connection.
struct Conn {
    front: SshFront,
    peer: SocketAddr,
    /// The logged-in user and the key's fingerprint.
    who: Option<(crate::auth::Identity, String)>,
    logged_in: Arc<AtomicBool>,
    channels: HashMap<ChannelId, Chan>,
}

#[derive(Default)]
struct Chan {
    /// The pty's size, once asked for.
    pty: Option<(u32, u32)>,
    looks: Looks,
    live: Option<Live>,
}

/// A channel whose session runs.
struct Live {
    id: SessionId,
    link: Arc<Link>,
    keys: KeyParser,
}

/// An SSH channel as a remote terminal's wire.
struct SshWire {
    handle: russh::server::Handle,
    channel: ChannelId,
}

impl Wire for SshWire {
    async fn send(&mut self, bytes: Vec<u8>) -> std::io::Result<()> {
        self.handle
            .data(self.channel, bytes)
            .await
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the SSH connection closed"))
    }

    async fn close(&mut self) {
        let _ = self.handle.exit_status_request(self.channel, 0).await;
        let _ = self.handle.eof(self.channel).await;
        let _ = self.handle.close(self.channel).await;
    }
}

impl Conn {
    fn offered(&self, login: &str, key: &russh::keys::PublicKey) -> Result<(crate::auth::Identity, String), String> {
        let line = key.to_openssh().map_err(|e| format!("unreadable key: {e}"))?;
        let key = PublicKey::parse(&line)?;
        let fingerprint = key.fingerprint();
        self.front.gate.key_login(login, &key).map(|id| (id, fingerprint))
    }

    /// Tells the client why a channel request is refused (on its standard error) and closes it.
    /// On a channel whose console runs, the request is only refused: the console goes on.
    fn refuse(&mut self, channel: ChannelId, why: &str, session: &mut SshSession) -> Result<(), russh::Error> {
        tracing::info!("SSH: {} ({}): refused: {why}", self.peer, self.user());
        session.channel_failure(channel)?;
        if self.channels.get(&channel).is_some_and(|c| c.live.is_some()) {
            return Ok(());
        }
        session.extended_data(channel, 1, format!("ttyhmi: {why}\r\n").into_bytes())?;
        session.exit_status_request(channel, 1)?;
        session.close(channel)?;
        self.channels.remove(&channel);
        Ok(())
    }

    fn user(&self) -> String {
        self.who.as_ref().map_or_else(|| "not logged in".into(), |(id, _)| id.user.clone())
    }

    async fn tell(&self, m: ToHub) {
        let _ = self.front.hub.send(m).await;
    }

    /// Starts the channel's session: a remote screen on the channel, joined to the hub.
    async fn start(&mut self, channel: ChannelId, session: &mut SshSession) -> Result<(), russh::Error> {
        let Some((identity, fingerprint)) = self.who.clone() else {
            return self.refuse(channel, "not logged in", session);
        };
        let Some(chan) = self.channels.get(&channel) else { return Ok(()) };
        let Some((cols, rows)) = chan.pty else {
            return self.refuse(channel, "the console needs a terminal: connect with `ssh -t`", session);
        };
        let person = self.front.gate.person(identity, Some(self.peer), format!("key {fingerprint}"), &chan.looks);
        session.channel_success(channel)?;
        let (screen, link) = Remote::start(SshWire { handle: session.handle(), channel }, cols, rows);
        let (reply, joined) = oneshot::channel();
        let join = Join { person, from: self.peer.to_string(), screen: Box::new(screen), reply };
        self.tell(ToHub::Join(Box::new(join))).await;
        match joined.await {
            Ok(id) => {
                tracing::info!("SSH: {}: session {} for {} (key {fingerprint})", self.peer, id.0, self.user());
                if let Some(chan) = self.channels.get_mut(&channel) {
                    chan.live = Some(Live { id, link, keys: KeyParser::new() });
                }
            }
            Err(_) => {
                session.close(channel)?;
            }
        }
        Ok(())
    }
}

impl Drop for Conn {
    /// The connection is gone: its sessions end (a dialog open in one is dropped, nothing written).
    fn drop(&mut self) {
        for live in self.channels.values().filter_map(|c| c.live.as_ref()) {
            let m = ToHub::Leave(live.id, "the SSH connection closed".into());
            if let Err(mpsc::error::TrySendError::Full(m)) = self.front.hub.try_send(m) {
                let hub = self.front.hub.clone();
                if let Ok(rt) = tokio::runtime::Handle::try_current() {
                    rt.spawn(async move { hub.send(m).await });
                }
            }
        }
    }
}

impl Handler for Conn {
    type Error = russh::Error;

    async fn auth_password(&mut self, user: &str, _password: &str) -> Result<Auth, Self::Error> {
        tracing::info!("SSH: {}: password login as {} refused (public keys only)", self.peer, clean(user));
        Ok(Auth::reject())
    }

    async fn auth_publickey_offered(
        &mut self,
        user: &str,
        offer: russh::server::PublicKeyOffer<'_>,
    ) -> Result<Auth, Self::Error> {
        Ok(match self.offered(user, offer.public_key) {
            Ok(_) => Auth::Accept,
            Err(_) => Auth::reject(),
        })
    }

    async fn auth_publickey(
        &mut self,
        user: &str,
        key: russh::server::VerifiedPublicKey<'_>,
    ) -> Result<Auth, Self::Error> {
        match self.offered(user, key.public_key) {
            Ok(who) => {
                tracing::info!("SSH: {}: {} logged in with key {}", self.peer, clean(user), who.1);
                self.who = Some(who);
                self.logged_in.store(true, Ordering::Relaxed);
                Ok(Auth::Accept)
            }
            Err(why) => {
                tracing::warn!("SSH: {}: login as {} refused: {why}", self.peer, clean(user));
                Ok(Auth::reject())
            }
        }
    }

    async fn channel_open_session(
        &mut self,
        channel: Channel<SshMsg>,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        if self.who.is_none() || self.channels.len() >= MAX_CHANNELS {
            reply.reject(ChannelOpenFailure::ResourceShortage).await;
            return Ok(());
        }
        self.channels.insert(channel.id(), Chan::default());
        reply.accept().await;
        Ok(())
    }

    async fn channel_open_x11(
        &mut self,
        _channel: Channel<SshMsg>,
        _address: &str,
        _port: u32,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        tracing::info!("SSH: {} ({}): X11 channel refused", self.peer, self.user());
        reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
        Ok(())
    }

    async fn channel_open_direct_tcpip(
        &mut self,
        _channel: Channel<SshMsg>,
        host: &str,
        port: u32,
        _from: &str,
        _from_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        tracing::warn!("SSH: {} ({}): port forwarding to {}:{port} refused", self.peer, self.user(), clean(host));
        reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
        Ok(())
    }

    async fn channel_open_forwarded_tcpip(
        &mut self,
        _channel: Channel<SshMsg>,
        _host: &str,
        _port: u32,
        _from: &str,
        _from_port: u32,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
        Ok(())
    }

    async fn channel_open_direct_streamlocal(
        &mut self,
        _channel: Channel<SshMsg>,
        _path: &str,
        reply: ChannelOpenHandle,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        tracing::warn!("SSH: {} ({}): socket forwarding refused", self.peer, self.user());
        reply.reject(ChannelOpenFailure::AdministrativelyProhibited).await;
        Ok(())
    }

    async fn pty_request(
        &mut self,
        channel: ChannelId,
        term: &str,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _modes: &[(Pty, u32)],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(chan) if chan.live.is_none() => {
                chan.pty = Some((cols, rows));
                chan.looks.term = term.chars().take(64).collect();
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn env_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        value: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        match self.channels.get_mut(&channel) {
            Some(chan) if name == "NO_COLOR" => {
                chan.looks.no_color = !value.is_empty();
                session.channel_success(channel)?;
            }
            _ => session.channel_failure(channel)?,
        }
        Ok(())
    }

    async fn shell_request(&mut self, channel: ChannelId, session: &mut SshSession) -> Result<(), Self::Error> {
        if self.channels.get(&channel).is_some_and(|c| c.live.is_some()) {
            return session.channel_failure(channel);
        }
        self.start(channel, session).await
    }

    async fn exec_request(
        &mut self,
        channel: ChannelId,
        _command: &[u8],
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        self.refuse(channel, "commands are not run on the console server: connect without one", session)
    }

    async fn subsystem_request(
        &mut self,
        channel: ChannelId,
        name: &str,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let why = format!("subsystem {} refused (no file transfer or other subsystems)", clean(name));
        self.refuse(channel, &why, session)
    }

    async fn x11_request(
        &mut self,
        channel: ChannelId,
        _single: bool,
        _protocol: &str,
        _cookie: &str,
        _screen: u32,
        session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        tracing::info!("SSH: {} ({}): X11 forwarding refused", self.peer, self.user());
        session.channel_failure(channel)
    }

    async fn agent_request(&mut self, _channel: ChannelId, _session: &mut SshSession) -> Result<bool, Self::Error> {
        tracing::info!("SSH: {} ({}): agent forwarding refused", self.peer, self.user());
        Ok(false)
    }

    async fn tcpip_forward(
        &mut self,
        address: &str,
        port: &mut u32,
        _session: &mut SshSession,
    ) -> Result<bool, Self::Error> {
        tracing::warn!("SSH: {} ({}): remote forwarding of {}:{port} refused", self.peer, self.user(), clean(address));
        Ok(false)
    }

    async fn streamlocal_forward(&mut self, _path: &str, _session: &mut SshSession) -> Result<bool, Self::Error> {
        tracing::warn!("SSH: {} ({}): remote socket forwarding refused", self.peer, self.user());
        Ok(false)
    }

    async fn data(&mut self, channel: ChannelId, data: &[u8], _session: &mut SshSession) -> Result<(), Self::Error> {
        let Some(live) = self.channels.get_mut(&channel).and_then(|c| c.live.as_mut()) else { return Ok(()) };
        let id = live.id;
        let keys = live.keys.feed(data);
        for k in keys {
            self.tell(ToHub::Msg(id, Msg::Key(k))).await;
        }
        Ok(())
    }

    async fn window_change_request(
        &mut self,
        channel: ChannelId,
        cols: u32,
        rows: u32,
        _pix_width: u32,
        _pix_height: u32,
        _session: &mut SshSession,
    ) -> Result<(), Self::Error> {
        let Some(chan) = self.channels.get_mut(&channel) else { return Ok(()) };
        chan.pty = Some((cols, rows));
        if let Some(live) = &chan.live {
            live.link.resize(cols, rows);
            let id = live.id;
            self.tell(ToHub::Msg(id, Msg::Resize)).await;
        }
        Ok(())
    }

    async fn channel_eof(&mut self, channel: ChannelId, session: &mut SshSession) -> Result<(), Self::Error> {
        self.channel_close(channel, session).await
    }

    async fn channel_close(&mut self, channel: ChannelId, _session: &mut SshSession) -> Result<(), Self::Error> {
        if let Some(live) = self.channels.remove(&channel).and_then(|c| c.live) {
            self.tell(ToHub::Leave(live.id, "the SSH channel closed".into())).await;
        }
        Ok(())
    }
}

fn clean(s: &str) -> String {
    crate::sanitize::clean(&s.chars().take(64).collect::<String>()).into_owned()
}
