//! Starting the drivers of a layout.

use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::driver::DriverEvent;
use crate::driver::modbus::poller::{self, ModbusJob};
use crate::layout::{ConnId, Layout};

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
            tokio::spawn(poller::run(job, tx.clone(), shutdown.clone()))
        })
        .collect()
}
