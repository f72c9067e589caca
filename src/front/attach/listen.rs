//! The server's side of the attach socket: each connection is a session for the account at the
//! other end (its peer credentials), or a question (who is connected).

use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::unix::OwnedWriteHalf;
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

use super::protocol::{Frame, MAX_FROM_CLIENT, read_frame, write_frame};
use crate::front::gate::{Gate, Looks};
use crate::front::hub::{Join, ToHub};
use crate::front::keys::KeyParser;
use crate::front::remote::{Remote, Wire};
use crate::plant::SessionInfo;
use crate::session::msg::Msg;

/// How long a new connection may take to say what it wants.
const HELLO_WAIT: Duration = Duration::from_secs(10);

#[derive(Debug, thiserror::Error)]
pub enum SocketError {
    #[error("attach socket {path}: another console server is listening there; stop it or give another --socket")]
    InUse { path: PathBuf },
    #[error("attach socket {path}: {kind} is in the way (not a socket): move it or give another --socket")]
    InTheWay { path: PathBuf, kind: &'static str },
    #[error("attach socket {path}: {message}")]
    Io { path: PathBuf, message: String },
}

/// Binds the socket at `path`: a stale socket of an earlier server is replaced; mode 0660,
/// group `ttyhmi` when that group exists (who may attach).
pub async fn bind(path: &Path) -> Result<UnixListener, SocketError> {
    let io_err = |e: io::Error| SocketError::Io { path: path.into(), message: e.to_string() };
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        use std::os::unix::fs::FileTypeExt;
        if !meta.file_type().is_socket() {
            let kind = match meta.file_type() {
                t if t.is_file() => "a regular file",
                t if t.is_symlink() => "a symbolic link",
                _ => crate::files::kind_of(&meta),
            };
            return Err(SocketError::InTheWay { path: path.into(), kind });
        }
        if UnixStream::connect(path).await.is_ok() {
            return Err(SocketError::InUse { path: path.into() });
        }
        std::fs::remove_file(path).map_err(io_err)?;
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io_err)?;
    }
    let listener = UnixListener::bind(path).map_err(io_err)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o660)).map_err(io_err)?;
    if let Ok(Some(group)) = nix::unistd::Group::from_name("ttyhmi")
        && let Err(e) = nix::unistd::chown(path, None, Some(group.gid))
    {
        tracing::warn!("attach socket {}: cannot give it to group ttyhmi: {e}", path.display());
    }
    Ok(listener)
}

/// Accepts connections until the listener fails.
pub async fn listen(listener: UnixListener, hub: mpsc::Sender<ToHub>, gate: Arc<Gate>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let (hub, gate) = (hub.clone(), gate.clone());
                tokio::spawn(async move {
                    if let Err(e) = serve(stream, hub, gate).await {
                        tracing::info!("attach socket: {e}");
                    }
                });
            }
            Err(e) => {
                tracing::warn!("attach socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

struct SocketWire(OwnedWriteHalf);

impl Wire for SocketWire {
    async fn send(&mut self, bytes: Vec<u8>) -> io::Result<()> {
        write_frame(&mut self.0, &Frame::Output(bytes)).await
    }

    async fn close(&mut self) {
        let _ = self.0.shutdown().await;
    }
}

async fn serve(stream: UnixStream, hub: mpsc::Sender<ToHub>, gate: Arc<Gate>) -> io::Result<()> {
    let cred = stream.peer_cred()?;
    let uid = cred.uid();
    let (mut rx, mut tx) = stream.into_split();
    let first = tokio::time::timeout(HELLO_WAIT, read_frame(&mut rx, MAX_FROM_CLIENT))
        .await
        .map_err(|_| io::Error::new(io::ErrorKind::TimedOut, format!("uid {uid} said nothing")))??;
    let (cols, rows, looks) = match first {
        Some(Frame::List) => {
            let (reply, list) = oneshot::channel();
            let _ = hub.send(ToHub::List(reply)).await;
            let list = list.await.unwrap_or_default();
            return write_frame(&mut tx, &Frame::Sessions(sessions_json(&list))).await;
        }
        Some(Frame::Hello { cols, rows, no_color, term }) => (cols, rows, Looks { term, no_color }),
        Some(_) => return Err(io::Error::new(io::ErrorKind::InvalidData, format!("uid {uid}: no hello"))),
        None => return Ok(()),
    };
    let identity = gate.local_user(uid);
    let person = gate.person(identity, None, format!("uid {uid}"), &looks);
    let (screen, link) = Remote::start(SocketWire(tx), u32::from(cols), u32::from(rows));
    let (reply, joined) = oneshot::channel();
    let join = Join { person, from: "local socket".into(), screen: Box::new(screen), reply };
    if hub.send(ToHub::Join(Box::new(join))).await.is_err() {
        return Ok(());
    }
    let Ok(id) = joined.await else { return Ok(()) };
    let mut keys = KeyParser::new();
    let why = loop {
        match read_frame(&mut rx, MAX_FROM_CLIENT).await {
            Ok(Some(Frame::Input(bytes))) => {
                for k in keys.feed(&bytes) {
                    let _ = hub.send(ToHub::Msg(id, Msg::Key(k))).await;
                }
            }
            Ok(Some(Frame::Size { cols, rows })) => {
                link.resize(u32::from(cols), u32::from(rows));
                let _ = hub.send(ToHub::Msg(id, Msg::Resize)).await;
            }
            Ok(Some(_)) => break "the attach client sent something unexpected".to_string(),
            Ok(None) => break "the attach client left".to_string(),
            Err(e) => break format!("the attach connection failed: {e}"),
        }
    };
    let _ = hub.send(ToHub::Leave(id, why)).await;
    Ok(())
}

/// One JSON object per session, for `ttyhmi sessions`.
pub fn sessions_json(list: &[SessionInfo]) -> String {
    let mut out = String::new();
    for s in list {
        let v = serde_json::json!({
            "session": s.id.0,
            "user": s.user,
            "role": s.role,
            "from": s.from,
            "via": s.via,
            "since": crate::timefmt::rfc3339_utc(s.since),
        });
        out.push_str(&v.to_string());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_stale_socket_is_replaced_a_live_one_or_a_file_stops_the_start() {
        let dir = std::env::temp_dir().join(format!("ttyhmi-attach-bind-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("run/console.sock");
        let live = bind(&path).await.expect("bound");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&path).expect("there").permissions().mode() & 0o777, 0o660);
        let e = bind(&path).await.expect_err("in use").to_string();
        assert!(e.contains("another console server is listening there"), "{e}");
        drop(live);
        // The server died: its socket file stays behind and is replaced.
        bind(&path).await.expect("a stale socket is replaced");
        let file = dir.join("file");
        std::fs::write(&file, "keep me").expect("written");
        let e = bind(&file).await.expect_err("a file").to_string();
        assert!(e.contains("a regular file is in the way"), "{e}");
        assert_eq!(std::fs::read_to_string(&file).expect("kept"), "keep me", "nothing is deleted");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
