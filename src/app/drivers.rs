//! Starting the drivers of a layout.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::driver::modbus::poller::{self, ModbusJob};
use crate::driver::{ConnectionState, DriverEvent};
use crate::layout::{ConnId, Layout};
use crate::tag::{Quality, Reason, Sample};

/// Spawns one task per connection. They stop when `shutdown` turns true.
pub fn spawn<M: From<DriverEvent> + Send + 'static>(
    layout: &Layout,
    tx: &mpsc::Sender<M>,
    shutdown: &watch::Receiver<bool>,
    poll_override: Option<std::time::Duration>,
) -> Vec<JoinHandle<()>> {
    (0..layout.connections.len())
        .filter_map(|i| ModbusJob::from_layout(layout, ConnId(i as u16)))
        .map(|mut job| {
            job.poll_override = poll_override;
            tokio::spawn(supervise(job, tx.clone(), shutdown.clone()))
        })
        .collect()
}

/// Runs a connection task and restarts it if it panics (a bug, never expected): its tags go Bad
/// and the connection shows why, instead of freezing on their last values.
async fn supervise<M: From<DriverEvent> + Send + 'static>(
    job: ModbusJob,
    tx: mpsc::Sender<M>,
    shutdown: watch::Receiver<bool>,
) {
    loop {
        let task = tokio::spawn(poller::run(job.clone(), tx.clone(), shutdown.clone()));
        match task.await {
            Ok(()) => return,
            Err(e) if e.is_panic() => {
                tracing::error!(connection = %job.name, "driver task panicked; restarting it: {e}");
                let now = std::time::SystemTime::now();
                let bad = Sample {
                    value: None,
                    quality: Quality::Bad(Reason::Other("driver failed; restarting".into())),
                    source_ts: None,
                    recv_ts: now,
                };
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
