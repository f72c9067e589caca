//! Starting the drivers of a layout.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::driver::modbus::poller::{self, ModbusJob};
use crate::driver::opcua::{self, UaJob};
use std::collections::HashMap;
use std::sync::Arc;

use crate::driver::{ConnectionState, DriverEvent, WriteCommand, WriteInbox};
use crate::layout::{ConnId, Layout};
use crate::tag::{Reason, Sample};

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
}

/// The running drivers, and where to send writes (empty when not writable).
pub struct Drivers {
    pub tasks: Vec<JoinHandle<()>>,
    pub writers: HashMap<ConnId, mpsc::Sender<WriteCommand>>,
}

/// Spawns one task per connection. They stop when `shutdown` turns true.
pub fn spawn<M: From<DriverEvent> + Send + 'static>(
    layout: &Layout,
    tx: &mpsc::Sender<M>,
    shutdown: &watch::Receiver<bool>,
    opts: &DriverOptions,
) -> Drivers {
    let mut writers = HashMap::new();
    let mut tasks = Vec::new();
    for id in (0..layout.connections.len()).map(|i| ConnId(i as u16)) {
        let inbox = if opts.writable {
            // One write at a time per connection; a second is refused by the console until the
            // first is answered.
            let (wtx, wrx) = mpsc::channel(1);
            writers.insert(id, wtx);
            Some(Arc::new(tokio::sync::Mutex::new(wrx)))
        } else {
            None
        };
        if let Some(mut job) = ModbusJob::from_layout(layout, id) {
            job.poll_override = opts.poll_override;
            tasks.push(tokio::spawn(supervise(job, tx.clone(), shutdown.clone(), inbox)));
        } else if let Some(job) = UaJob::from_layout(layout, id, opts.pki.clone()) {
            tasks.push(tokio::spawn(opcua::run(job, tx.clone(), shutdown.clone(), inbox)));
        }
    }
    Drivers { tasks, writers }
}

/// Runs a connection task and restarts it if it panics (a bug, never expected): its tags go Bad
/// and the connection shows why, instead of freezing on their last values.
async fn supervise<M: From<DriverEvent> + Send + 'static>(
    job: ModbusJob,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
    inbox: Option<WriteInbox>,
) {
    loop {
        let task = tokio::spawn(poller::run(job.clone(), tx.clone(), shutdown.clone(), inbox.clone()));
        match task.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(connection = %job.name, "driver task panicked; restarting it: {e}");
                let now = std::time::SystemTime::now();
                let bad = Sample::bad(Reason::Other("driver failed; restarting".into()), now);
                let samples = job.points.iter().map(|(id, _, _)| (*id, bad.clone())).collect();
                let _ = tx.send(DriverEvent::Samples { conn: job.conn, samples, raw: None }.into()).await;
                let state = ConnectionState::Disconnected {
                    reason: "driver failed (see the log); restarting".into(),
                    retry_in: RESTART_DELAY,
                };
                let _ = tx.send(DriverEvent::State { conn: job.conn, state }.into()).await;
                tokio::time::sleep(RESTART_DELAY).await;
                if *shutdown.borrow() {
                    return;
                }
            }
            Err(_) => return,
        }
    }
}

const RESTART_DELAY: std::time::Duration = std::time::Duration::from_secs(1);
