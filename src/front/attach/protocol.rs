//! The attach socket's protocol: frames of `[kind: u8][length: u32, big-endian][payload]`. The
//! client sends what a terminal has (its size, `TERM`, `NO_COLOR`, key bytes) and never who it
//! is: the server takes that from the socket's peer credentials. The server sends screen bytes,
//! or the list of sessions. A frame too long or of an unknown kind ends the connection.

use std::io;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The longest payload a client may send.
pub const MAX_FROM_CLIENT: usize = 64 * 1024;
/// The longest payload a server may send.
pub const MAX_FROM_SERVER: usize = 4 * 1024 * 1024;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame {
    /// Client, first: a terminal of this size wants a session.
    Hello { cols: u16, rows: u16, no_color: bool, term: String },
    /// Client: bytes typed.
    Input(Vec<u8>),
    /// Client: the terminal's new size.
    Size { cols: u16, rows: u16 },
    /// Client, first: who is connected? (`ttyhmi sessions`)
    List,
    /// Server: bytes for the terminal.
    Output(Vec<u8>),
    /// Server: the sessions, one JSON object per line.
    Sessions(String),
}

const HELLO: u8 = 1;
const INPUT: u8 = 2;
const SIZE: u8 = 3;
const LIST: u8 = 4;
const OUTPUT: u8 = 16;
const SESSIONS: u8 = 17;

impl Frame {
    pub fn encode(&self) -> Vec<u8> {
        let (kind, payload) = match self {
            Frame::Hello { cols, rows, no_color, term } => {
                let mut p = size(*cols, *rows);
                p.push(u8::from(*no_color));
                p.extend_from_slice(term.as_bytes());
                (HELLO, p)
            }
            Frame::Input(b) => (INPUT, b.clone()),
            Frame::Size { cols, rows } => (SIZE, size(*cols, *rows)),
            Frame::List => (LIST, Vec::new()),
            Frame::Output(b) => (OUTPUT, b.clone()),
            Frame::Sessions(s) => (SESSIONS, s.as_bytes().to_vec()),
        };
        let mut out = Vec::with_capacity(5 + payload.len());
        out.push(kind);
        out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
        out.extend_from_slice(&payload);
        out
    }

    /// One frame from its kind and payload.
    pub fn decode(kind: u8, p: Vec<u8>) -> io::Result<Frame> {
        let bad = |what: &str| io::Error::new(io::ErrorKind::InvalidData, format!("attach socket: {what}"));
        let dims = |p: &[u8]| match p {
            [a, b, c, d, ..] => Ok((u16::from_be_bytes([*a, *b]), u16::from_be_bytes([*c, *d]))),
            _ => Err(bad("a size needs 4 bytes")),
        };
        Ok(match kind {
            HELLO => {
                let (cols, rows) = dims(&p)?;
                let no_color = *p.get(4).ok_or_else(|| bad("hello too short"))? != 0;
                let term = String::from_utf8_lossy(p.get(5..).unwrap_or_default()).chars().take(64).collect();
                Frame::Hello { cols, rows, no_color, term }
            }
            INPUT => Frame::Input(p),
            SIZE => {
                let (cols, rows) = dims(&p)?;
                Frame::Size { cols, rows }
            }
            LIST => Frame::List,
            OUTPUT => Frame::Output(p),
            SESSIONS => Frame::Sessions(String::from_utf8_lossy(&p).into_owned()),
            k => return Err(bad(&format!("unknown frame kind {k}"))),
        })
    }
}

fn size(cols: u16, rows: u16) -> Vec<u8> {
    let mut p = cols.to_be_bytes().to_vec();
    p.extend_from_slice(&rows.to_be_bytes());
    p
}

/// The next frame; `None` at a clean end of the stream (between frames).
pub async fn read_frame<R: AsyncRead + Unpin>(r: &mut R, max: usize) -> io::Result<Option<Frame>> {
    let mut head = [0u8; 5];
    match r.read_exact(&mut head[..1]).await {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e),
    }
    r.read_exact(&mut head[1..]).await?;
    let len = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
    if len > max {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("attach socket: a frame of {len} bytes (at most {max})"),
        ));
    }
    let mut payload = vec![0u8; len];
    r.read_exact(&mut payload).await?;
    Frame::decode(head[0], payload).map(Some)
}

pub async fn write_frame<W: AsyncWrite + Unpin>(w: &mut W, f: &Frame) -> io::Result<()> {
    w.write_all(&f.encode()).await?;
    w.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn every_frame_reads_back_as_written() {
        let frames = [
            Frame::Hello { cols: 80, rows: 24, no_color: true, term: "xterm-256color".into() },
            Frame::Input(b"\x1b[A".to_vec()),
            Frame::Size { cols: 1000, rows: 500 },
            Frame::List,
            Frame::Output(vec![0; 70_000]),
            Frame::Sessions("{}\n".into()),
        ];
        let mut wire = Vec::new();
        for f in &frames {
            wire.extend(f.encode());
        }
        let mut r = wire.as_slice();
        for f in &frames {
            assert_eq!(read_frame(&mut r, MAX_FROM_SERVER).await.expect("read").as_ref(), Some(f));
        }
        assert_eq!(read_frame(&mut r, MAX_FROM_SERVER).await.expect("end"), None);
    }

    #[tokio::test]
    async fn too_long_unknown_or_cut_frames_are_errors() {
        let long = Frame::Input(vec![1; MAX_FROM_CLIENT + 1]).encode();
        let e = read_frame(&mut long.as_slice(), MAX_FROM_CLIENT).await.expect_err("too long");
        assert!(e.to_string().contains("at most"), "{e}");
        assert!(read_frame(&mut [99u8, 0, 0, 0, 0].as_slice(), 10).await.is_err());
        assert!(read_frame(&mut [INPUT, 0, 0, 0, 9, 1].as_slice(), 10).await.is_err());
        assert!(read_frame(&mut [SIZE, 0, 0, 0, 1, 1].as_slice(), 10).await.is_err());
    }
}
