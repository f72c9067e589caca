//! The Sparkplug host connection's driver task (being built for issue 15).

use tokio::sync::{mpsc, watch};

use crate::driver::{DriverEvent, WriteInbox};
use crate::layout::{ConnId, Layout, SparkplugConn};
use crate::tag::{Reason, Sample, TagId};

/// One `sparkplug` connection: its tags and settings.
#[derive(Clone, Debug)]
pub struct SpJob {
    pub conn: ConnId,
    pub tags: Vec<TagId>,
    pub spec: SparkplugConn,
}

impl SpJob {
    pub fn new(layout: &Layout, conn: ConnId, spec: &SparkplugConn) -> SpJob {
        SpJob { conn, tags: layout.tags_of(conn).map(|(id, _)| id).collect(), spec: spec.clone() }
    }
}

/// Runs the connection until `shutdown`.
pub async fn run<M: From<DriverEvent> + Send + 'static>(
    job: SpJob,
    tx: mpsc::Sender<M>,
    mut shutdown: watch::Receiver<bool>,
    _inbox: Option<WriteInbox>,
) {
    let now = std::time::SystemTime::now();
    let samples = job.tags.iter().map(|&t| (t, Sample::bad(Reason::Other("not built yet".into()), now))).collect();
    let _ = tx.send(DriverEvent::Samples { conn: job.conn, samples, raw: None }.into()).await;
    let _ = shutdown.wait_for(|s| *s).await;
}
