//! `ttyhmi serve`: one plant core and any number of sessions, over SSH ([`super::ssh`]) and the
//! local attach socket ([`super::attach`]). Drivers, alarms, journal, history and the audit log
//! are the plant's and shared; screen, selection, dialogs and colour are each session's own.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::attach::listen::SocketError;
use super::gate::Gate;
use super::hub::{BURST, Hub, ToHub};
use super::ssh::host_key::HostKeyError;
use crate::layout::Layout;
use crate::plant::runtime::{PlantOptions, PlantRuntime};

pub struct ServeOptions {
    /// Where SSH listens (`None`: the attach socket only).
    pub ssh: Option<SocketAddr>,
    pub host_key: PathBuf,
    /// The attach socket (`None`: no socket).
    pub socket: Option<PathBuf>,
    pub gate: Gate,
    pub plant: PlantOptions,
    /// Where trend exports go.
    pub export_dir: PathBuf,
    /// Log a session out after this long without a key (off: a control-room screen stays up).
    pub idle_logout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    HostKey(#[from] HostKeyError),
    #[error("cannot listen for SSH on {addr}: {message}")]
    Bind { addr: SocketAddr, message: String },
    #[error(transparent)]
    Socket(#[from] SocketError),
    #[error("cannot start the plant: {0}")]
    Plant(io::Error),
}

/// A running console server.
pub struct Server {
    /// Where SSH listens (the port chosen when 0 was asked for).
    pub ssh_addr: Option<SocketAddr>,
    /// The host key's fingerprint (`SHA256:…`) and whether it was made just now.
    pub host_key: Option<(String, bool)>,
    pub socket: Option<PathBuf>,
    hub: mpsc::Sender<ToHub>,
    run: JoinHandle<io::Result<()>>,
    listeners: Vec<JoinHandle<()>>,
}

impl Server {
    /// Starts the plant and the listeners.
    pub async fn start(layout: Layout, opts: ServeOptions) -> Result<Server, ServeError> {
        let gate = Arc::new(opts.gate);
        let (to_hub, inputs) = mpsc::channel(BURST);
        let mut listeners = Vec::new();
        let (mut ssh_addr, mut host_key) = (None, None);
        if let Some(addr) = opts.ssh {
            let (key, new) = super::ssh::host_key::load_or_create(&opts.host_key)?;
            host_key = Some((super::ssh::host_key::fingerprint(&key), new));
            let bind = |e: io::Error| ServeError::Bind { addr, message: e.to_string() };
            let listener = tokio::net::TcpListener::bind(addr).await.map_err(bind)?;
            ssh_addr = Some(listener.local_addr().map_err(bind)?);
            let front = super::ssh::SshFront { hub: to_hub.clone(), gate: gate.clone() };
            let config = Arc::new(super::ssh::config(key));
            listeners.push(tokio::spawn(super::ssh::listen(listener, config, front)));
        }
        if let Some(path) = &opts.socket {
            let listener = super::attach::listen::bind(path).await?;
            listeners.push(tokio::spawn(super::attach::listen::listen(listener, to_hub.clone(), gate.clone())));
        }
        let (tx, outcomes) = mpsc::channel(BURST);
        let runtime = PlantRuntime::start(Arc::new(layout), &opts.plant, tx).map_err(ServeError::Plant)?;
        let hub = Hub::new(runtime, opts.export_dir, false).idle_logout(opts.idle_logout);
        let run = tokio::spawn(hub.run(outcomes, inputs));
        Ok(Server { ssh_addr, host_key, socket: opts.socket, hub: to_hub, run, listeners })
    }

    /// Where front ends reach the hub (tests use it to ask who is connected).
    pub fn hub(&self) -> mpsc::Sender<ToHub> {
        self.hub.clone()
    }

    /// Tells every session why the server stops, ends them, then the plant; waits for it.
    pub async fn stop(self, why: &str) -> io::Result<()> {
        for l in &self.listeners {
            l.abort();
        }
        let _ = self.hub.send(ToHub::Shutdown(why.to_string())).await;
        let result = match self.run.await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(format!("the console server's task failed: {e}"))),
        };
        if let Some(path) = &self.socket {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Waits until the server's hub ends by itself (it only does when it fails).
    pub async fn wait_failed(&mut self) -> io::Result<()> {
        match (&mut self.run).await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(format!("the console server's task failed: {e}"))),
        }
    }
}
