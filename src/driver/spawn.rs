//! Starting the drivers of a layout: one supervised task per connection, chosen by its kind.

use std::collections::HashMap;
use std::sync::Arc;

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use super::modbus::poller::{self, ModbusJob};
use super::opcua::{self, UaJob};
use super::{DriverEvent, WriteCommand};
use crate::layout::{ConnId, ConnectionKind, Layout};

/// Where drivers keep their files, and measurement overrides.
#[derive(Clone, Debug, Default)]
pub struct DriverOptions {
    /// Modbus: poll every block at this period instead of the layout's (`watch --poll`).
    pub poll_override: Option<std::time::Duration>,
    /// OPC UA: the client PKI folder (own certificate, trusted and rejected server certificates).
    pub pki: std::path::PathBuf,
    /// Give the drivers a write inbox. False in read-only mode: then no write can reach a device,
    /// whatever else happens.
    pub writable: bool,
    /// Sparkplug: the file of this installation's command key (made on first use), which signs
    /// every command a console sends through a broker. `None`: no key, such writes are refused.
    pub command_key: Option<std::path::PathBuf>,
}

/// The running drivers, and where to send writes (empty when not writable).
pub struct Drivers {
    pub tasks: Vec<JoinHandle<()>>,
    pub writers: HashMap<ConnId, mpsc::Sender<WriteCommand>>,
}

/// Spawns one task per connection, each under the driver supervisor (which restarts a driver
/// that panics). They stop when `shutdown` turns true.
pub fn spawn<M: From<DriverEvent> + Send + 'static>(
    layout: &Layout,
    tx: &mpsc::Sender<M>,
    shutdown: &watch::Receiver<bool>,
    opts: &DriverOptions,
) -> Drivers {
    let mut writers = HashMap::new();
    let mut tasks = Vec::new();
    let key = command_key(layout, opts);
    for (i, c) in layout.connections.iter().enumerate() {
        let id = ConnId(i as u16);
        let inbox = if opts.writable {
            // One write at a time per connection; a second is refused by the console until the
            // first is answered.
            let (wtx, wrx) = mpsc::channel(1);
            writers.insert(id, wtx);
            Some(Arc::new(tokio::sync::Mutex::new(wrx)))
        } else {
            None
        };
        let (tx, shutdown) = (tx.clone(), shutdown.clone());
        // Every kind of connection is started here: a new kind does not compile until it is.
        let task = match &c.kind {
            ConnectionKind::Modbus(modbus) => {
                let mut job = ModbusJob::new(layout, id, modbus);
                job.poll_override = opts.poll_override;
                tokio::spawn(poller::run(job, tx, shutdown, inbox))
            }
            ConnectionKind::OpcUa(ua) => {
                let job = UaJob::new(layout, id, ua, opts.pki.clone());
                tokio::spawn(opcua::run(job, tx, shutdown, inbox))
            }
            ConnectionKind::Sparkplug(sp) => {
                let job = super::sparkplug::link::SpJob::new(layout, id, sp, key.clone());
                tokio::spawn(super::sparkplug::link::run(job, tx, shutdown, inbox))
            }
        };
        tasks.push(task);
    }
    Drivers { tasks, writers }
}

/// The command key, when a writable console has a Sparkplug connection to sign for (read or
/// made once for all of them); else why there is none.
fn command_key(layout: &Layout, opts: &DriverOptions) -> Result<Arc<ed25519_dalek::SigningKey>, String> {
    let needed = opts.writable && layout.connections.iter().any(|c| matches!(c.kind, ConnectionKind::Sparkplug(_)));
    let Some(path) = opts.command_key.as_ref().filter(|_| needed) else {
        return Err("this console has no command key".into());
    };
    match super::sparkplug::command::load_or_create_key(path) {
        Ok((key, created)) => {
            if created {
                tracing::info!("made the command key {} (ttyhmi key prints its public half)", path.display());
            }
            Ok(Arc::new(key))
        }
        Err(e) => {
            tracing::error!("command key: {e}");
            Err(e.to_string())
        }
    }
}
