//! The OPC UA driver against real servers on loopback: the in-process simulator (its own PKI
//! folder per test, physics frozen unless a test needs values that move), a minimal async-opcua
//! server that offers only security None, and raw TCP servers that misbehave on purpose.
//!
//! Events are folded into a [`View`] through [`TagStore::apply`], so the assertions are about
//! what an operator sees (a Bad tag keeps its last value). Every wait is for a condition with a
//! deadline ([`Harness::wait_for`]); a timed-out wait fails with a summary of the view.
//!
//! Every test has its own temporary folder holding the simulator's PKI, the client's PKI and the
//! password files, so tests running in parallel never share a certificate store.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use opcua::types::{AttributeId, NodeId, ReadValueId, TimestampsToReturn};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use ttyhmi::driver::opcua::{UaJob, convert, pki, prepare, publishing_fact, run, write};
use ttyhmi::driver::{ConnectionState, DriverEvent, Fact, ItemInfo, WriteError};
use ttyhmi::layout::{self, ConnId, Layout};
use ttyhmi::sim::opcua_server::{DEFAULT_PASSWORD, NAMESPACE_URI, USERNAME, load_node_id, node, test_values};
use ttyhmi::sim::{self, SimHandle, SimOptions};
use ttyhmi::tag::{Quality, Reason, Sample, TagStore, Value};

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().expect("a socket address")
}

// ---------------------------------------------------------------------------------------------
// Folders and servers

/// A temporary folder of one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(what: &str) -> TempDir {
        static N: AtomicUsize = AtomicUsize::new(0);
        let n = N.fetch_add(1, Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("ttyhmi-opcua-driver-{}-{n}-{what}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a temporary folder");
        TempDir(dir)
    }

    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The client's PKI folder.
    fn client_pki(&self) -> PathBuf {
        self.join("client-pki")
    }

    /// The simulator's PKI folder (the same across restarts, so its certificate stays trusted).
    fn sim_pki(&self) -> PathBuf {
        self.join("sim-pki")
    }

    /// A password file holding `password` (and a newline, as editors write it).
    fn password_file(&self, password: &str) -> PathBuf {
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = self.join(&format!("password-{}", N.fetch_add(1, Ordering::Relaxed)));
        std::fs::write(&path, format!("{password}\n")).expect("write the password file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The simulator with OPC UA on `port` (0 = ephemeral), no load items, its PKI in `dir`.
/// `step: None` freezes the physics.
async fn start_sim(dir: &TempDir, port: u16, step: Option<Duration>) -> SimHandle {
    let options = SimOptions {
        step,
        opcua_port: Some(port),
        opcua_load_items: 0,
        opcua_pki: dir.sim_pki(),
        ..SimOptions::default()
    };
    sim::start_with(loopback(), options).await.expect("start the simulator")
}

/// Makes the client in `dir` trust the simulator's certificate (explicitly, as an operator would).
fn trust_sim(dir: &TempDir, sim: &SimHandle) {
    let cert = sim.opcua_certificate_path().expect("the simulator runs OPC UA");
    pki::install_trusted(&dir.client_pki(), &cert).expect("trust the simulator's certificate");
}

fn url(sim: &SimHandle) -> String {
    sim.opcua_url().expect("the simulator runs OPC UA")
}

/// A node of the simulator, in the `nsu=` form a layout uses.
fn sim_node(id: &str) -> String {
    format!("nsu={NAMESPACE_URI};s={id}")
}

/// How a raw TCP server misbehaves.
#[derive(Clone, Copy, Debug)]
enum Misbehave {
    /// Accepts and closes at once.
    Close,
    /// Answers the Hello with bytes that are not OPC UA.
    Garbage,
    /// Reads the Hello, then closes without an answer.
    HelloThenClose,
    /// Accepts and reads, never answers, never closes.
    Silent,
}

/// A raw TCP server on an ephemeral loopback port; returns its `opc.tcp://` URL.
async fn raw_server(how: Misbehave) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let task = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            tokio::spawn(serve_raw(s, how));
        }
    });
    (format!("opc.tcp://127.0.0.1:{port}"), task)
}

async fn serve_raw(mut s: TcpStream, how: Misbehave) {
    let mut buf = [0u8; 4096];
    match how {
        Misbehave::Close => {}
        Misbehave::Garbage => {
            let _ = s.read(&mut buf).await;
            let _ = s.write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n").await;
            let _ = s.flush().await;
            tokio::time::sleep(ms(200)).await;
        }
        Misbehave::HelloThenClose => {
            let _ = s.read(&mut buf).await;
        }
        Misbehave::Silent => while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {},
    }
}

/// A small real async-opcua server that offers one endpoint only (security None, anonymous) and,
/// in each namespace of `uris` (registered in that order), a String variable `s=Value` whose
/// value is its namespace URI: a client that reads it can tell which namespace it reached.
struct SmallServer {
    url: String,
    handle: opcua::server::ServerHandle,
    task: JoinHandle<()>,
}

impl SmallServer {
    /// Starts on 127.0.0.1:`port` (0 = ephemeral) with its certificate in `pki`.
    async fn start(port: u16, pki: &Path, uris: &[&str]) -> SmallServer {
        use opcua::server::address_space::VariableBuilder;
        use opcua::server::diagnostics::NamespaceMetadata;
        use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
        use opcua::types::{DataTypeId, ObjectId, QualifiedName, Variant};

        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let url = format!("opc.tcp://127.0.0.1:{port}");
        let mut builder = opcua::server::ServerBuilder::new_anonymous("ttyhmi test server: security None only")
            .application_uri("urn:ttyhmi:test:small-server")
            .product_uri("urn:ttyhmi:test")
            .host("127.0.0.1")
            .port(port)
            .discovery_urls(vec![format!("{url}/")])
            .pki_dir(pki)
            .create_sample_keypair(true)
            .trust_client_certs(true);
        for (i, uri) in uris.iter().enumerate() {
            let ns = NamespaceMetadata { namespace_uri: (*uri).to_owned(), ..NamespaceMetadata::default() };
            builder = builder.with_node_manager(simple_node_manager(ns, &format!("nm{i}")));
        }
        let (server, handle) = builder.build().expect("a server offering None only");
        for (i, uri) in uris.iter().enumerate() {
            let nm = handle.node_managers().get_by_name::<SimpleNodeManager>(&format!("nm{i}")).expect("node manager");
            let index = *nm.namespaces().keys().next().expect("a namespace");
            let id = NodeId::new(index, "Value");
            let mut space = nm.address_space().write();
            VariableBuilder::new(&id, QualifiedName::new(index, "Value"), "Value")
                .data_type(DataTypeId::String)
                .value(Variant::from(*uri))
                .organized_by(ObjectId::ObjectsFolder)
                .insert(&mut *space);
        }
        let task = tokio::spawn(async move {
            let _ = server.run_with(listener).await;
        });
        SmallServer { url, handle, task }
    }

    fn port(&self) -> u16 {
        self.url.rsplit(':').next().and_then(|p| p.parse().ok()).expect("a port")
    }

    async fn stop(self) {
        self.handle.cancel();
        let _ = tokio::time::timeout(secs(5), self.task).await;
    }
}

/// A real async-opcua server (security None, anonymous) for values a client may fail to decode:
/// `s=Counter` (UInt32, +1 every 100 ms, pushed to subscriptions) and String variables
/// `s=<name>` whose values a test sets at will. Its limits let it send strings of up to 64 MiB.
struct ValueServer {
    url: String,
    handle: opcua::server::ServerHandle,
    nm: std::sync::Arc<opcua::server::node_manager::memory::SimpleNodeManager>,
    ns: u16,
    tasks: Vec<JoinHandle<()>>,
}

impl ValueServer {
    const URI: &str = "urn:ttyhmi:test:values";

    async fn start(pki: &Path, texts: &[(&str, &str)]) -> ValueServer {
        use opcua::server::address_space::VariableBuilder;
        use opcua::server::diagnostics::NamespaceMetadata;
        use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
        use opcua::types::{DataTypeId, ObjectId, QualifiedName, Variant};

        let listener = TcpListener::bind(loopback()).await.expect("bind");
        let port = listener.local_addr().expect("local address").port();
        let url = format!("opc.tcp://127.0.0.1:{port}");
        let ns = NamespaceMetadata { namespace_uri: Self::URI.to_owned(), ..NamespaceMetadata::default() };
        let (server, handle) = opcua::server::ServerBuilder::new_anonymous("ttyhmi test server: hostile values")
            .application_uri("urn:ttyhmi:test:value-server")
            .product_uri("urn:ttyhmi:test")
            .host("127.0.0.1")
            .port(port)
            .discovery_urls(vec![format!("{url}/")])
            .pki_dir(pki)
            .create_sample_keypair(true)
            .trust_client_certs(true)
            .max_string_length(64 << 20)
            .max_byte_string_length(64 << 20)
            .max_message_size(128 << 20)
            .max_chunk_count(4096)
            .with_node_manager(simple_node_manager(ns, "values"))
            .build()
            .expect("a server offering None only");
        let nm = handle.node_managers().get_by_name::<SimpleNodeManager>("values").expect("node manager");
        let ns = *nm.namespaces().keys().next().expect("a namespace");
        {
            let mut space = nm.address_space().write();
            let mut add = |name: &str, dt: DataTypeId, value: Variant| {
                let id = NodeId::new(ns, name);
                VariableBuilder::new(&id, QualifiedName::new(ns, name), name)
                    .data_type(dt)
                    .value(value)
                    .organized_by(ObjectId::ObjectsFolder)
                    .insert(&mut *space);
            };
            add("Counter", DataTypeId::UInt32, Variant::UInt32(0));
            for (name, value) in texts {
                add(name, DataTypeId::String, Variant::from(*value));
            }
        }
        let run = tokio::spawn(async move {
            let _ = server.run_with(listener).await;
        });
        let counter = {
            let (nm, handle) = (nm.clone(), handle.clone());
            tokio::spawn(async move {
                let id = NodeId::new(ns, "Counter");
                for n in 1u32.. {
                    tokio::time::sleep(ms(100)).await;
                    let dv = opcua::types::DataValue::new_now(opcua::types::Variant::UInt32(n));
                    let _ = nm.set_value(handle.subscriptions(), &id, None, dv);
                }
            })
        };
        ValueServer { url, handle, nm, ns, tasks: vec![run, counter] }
    }

    /// The layout form of one of its nodes.
    fn node(name: &str) -> String {
        format!("nsu={};s={name}", Self::URI)
    }

    fn set_text(&self, name: &str, value: &str) {
        let dv = opcua::types::DataValue::new_now(opcua::types::Variant::from(value));
        self.nm.set_value(self.handle.subscriptions(), &NodeId::new(self.ns, name), None, dv).expect("set the value");
    }

    async fn stop(self) {
        self.handle.cancel();
        for t in self.tasks {
            t.abort();
            let _ = tokio::time::timeout(secs(5), t).await;
        }
    }
}

/// In a String the value server sends, this marker becomes bytes that are not UTF-8 on their way
/// to the client (see [`mangling_proxy`]).
const NOT_UTF8_MARKER: &[u8] = b"<<not-utf-8!!>>";
const NOT_UTF8_BYTES: &[u8] = b"<<not-utf-8\xff\xfe>>";

/// A TCP proxy in front of `target` (security None only): in every OPC UA message from the
/// server, [`NOT_UTF8_MARKER`] is replaced by bytes of the same length that are not UTF-8. An
/// async-opcua server cannot send such a String itself (its strings are Rust strings). Returns
/// the proxy's URL.
async fn mangling_proxy(target: SocketAddr) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind(loopback()).await.expect("bind");
    let port = listener.local_addr().expect("local address").port();
    let task = tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(target).await else { continue };
            let (mut cr, mut cw) = client.into_split();
            let (mut sr, mut sw) = server.into_split();
            tokio::spawn(async move {
                let _ = tokio::io::copy(&mut cr, &mut sw).await;
            });
            tokio::spawn(async move {
                // One message chunk at a time: 8-byte header, its size a u32 at offset 4.
                loop {
                    let mut header = [0u8; 8];
                    if sr.read_exact(&mut header).await.is_err() {
                        return;
                    }
                    let size = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
                    let mut chunk = header.to_vec();
                    chunk.resize(size.max(8), 0);
                    if sr.read_exact(&mut chunk[8..]).await.is_err() {
                        return;
                    }
                    let (marker, bad) = (NOT_UTF8_MARKER, NOT_UTF8_BYTES);
                    let mut i = 0;
                    while i + marker.len() <= chunk.len() {
                        if &chunk[i..i + marker.len()] == marker {
                            chunk[i..i + marker.len()].copy_from_slice(bad);
                        }
                        i += 1;
                    }
                    if cw.write_all(&chunk).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (format!("opc.tcp://127.0.0.1:{port}"), task)
}

// ---------------------------------------------------------------------------------------------
// Layouts

/// Builds layout text: OPC UA connections (publishing interval 100 ms) and tags.
#[derive(Default)]
struct LayoutSrc {
    conns: String,
    tags: String,
}

const NONE: &str = "security: none";

fn secure(policy: &str, mode: &str) -> String {
    format!("security: {{ policy: {policy}, mode: {mode} }}")
}

fn user(password_file: &Path) -> String {
    format!("user: {{ username: {USERNAME}, password_file: \"{}\" }}", password_file.display())
}

impl LayoutSrc {
    /// `keys`: lines inside `opcua:` besides the endpoint (security, user).
    fn conn(mut self, name: &str, endpoint: &str, keys: &[&str]) -> Self {
        self.conns += &format!("  {name}:\n    opcua:\n      endpoint: \"{endpoint}\"\n");
        for k in keys {
            self.conns += &format!("      {k}\n");
        }
        self.conns += "    publishing_interval: 100ms\n";
        self
    }

    /// `extra`: more keys of the tag, each starting with `, `.
    fn tag(mut self, name: &str, source: &str, node: &str, extra: &str) -> Self {
        self.tags += &format!("  {name}: {{ source: {source}, node: \"{node}\"{extra} }}\n");
        self
    }

    fn build(&self) -> String {
        format!("title: OPC UA driver test\nconnections:\n{}tags:\n{}", self.conns, self.tags)
    }
}

fn parse(src: &str) -> Layout {
    layout::parse(src, "test.yaml").unwrap_or_else(|e| panic!("{e}\n--- layout:\n{src}"))
}

fn job(layout: &Layout, conn: u16, pki: &Path) -> UaJob {
    UaJob::from_layout(layout, ConnId(conn), pki.to_path_buf()).expect("an OPC UA connection")
}

// ---------------------------------------------------------------------------------------------
// What the driver reported, folded

/// What an operator would see, plus the event history the tests assert on.
struct View {
    layout: Layout,
    store: TagStore,
    /// Samples received per tag, Good and not Good; `Fresh` confirmations per tag.
    good: Vec<u32>,
    not_good: Vec<u32>,
    fresh: Vec<u32>,
    /// The values of the Good samples of each tag, in order.
    good_values: Vec<Vec<Value>>,
    states: Vec<(ConnId, ConnectionState)>,
    /// Good samples and Fresh confirmations received so far (all tags), and that number at the
    /// time of each state in `states`.
    arrivals: u64,
    arrivals_at_state: Vec<u64>,
    /// The diagnostics reports: the monitored items as revised, and the facts (publishing interval).
    items: Vec<(ConnId, Vec<ItemInfo>, Vec<Fact>)>,
    /// The nodes' DataTypes the drivers reported, by tag (the latest report).
    data_types: std::collections::HashMap<ttyhmi::tag::TagId, Result<ttyhmi::driver::WireType, String>>,
    stats_events: usize,
    /// The most samples one Samples event carried.
    largest_batch: usize,
}

impl View {
    fn new(layout: Layout) -> Self {
        let n = layout.tags.len();
        View {
            layout,
            store: TagStore::new(n, SystemTime::now()),
            good: vec![0; n],
            not_good: vec![0; n],
            fresh: vec![0; n],
            good_values: vec![Vec::new(); n],
            states: Vec::new(),
            arrivals: 0,
            arrivals_at_state: Vec::new(),
            items: Vec::new(),
            data_types: std::collections::HashMap::new(),
            stats_events: 0,
            largest_batch: 0,
        }
    }

    fn fold(&mut self, e: DriverEvent) {
        match e {
            DriverEvent::Samples { samples, .. } => {
                self.largest_batch = self.largest_batch.max(samples.len());
                for (id, s) in samples {
                    let i = id.index();
                    if s.quality.is_good() {
                        self.arrivals += 1;
                        self.good[i] += 1;
                        if let Some(v) = &s.value {
                            self.good_values[i].push(v.clone());
                        }
                    } else {
                        self.not_good[i] += 1;
                    }
                    self.store.apply(id, s);
                }
            }
            DriverEvent::Fresh { tags, recv_ts, .. } => {
                for &id in tags.iter() {
                    self.arrivals += 1;
                    self.fresh[id.index()] += 1;
                    self.store.refresh(id, recv_ts);
                }
            }
            DriverEvent::State { conn, state } => {
                self.states.push((conn, state));
                self.arrivals_at_state.push(self.arrivals);
            }
            DriverEvent::Stats { .. } => self.stats_events += 1,
            DriverEvent::Diagnostics { conn, diag } => {
                assert!(diag.plan.is_empty(), "an OPC UA driver makes no Modbus read plan");
                self.items.push((conn, diag.items, diag.facts))
            }
            DriverEvent::DataTypes { types, .. } => self.data_types.extend(types),
            DriverEvent::Historical { .. } => panic!("an OPC UA driver reports no history"),
        }
    }

    fn index(&self, name: &str) -> usize {
        self.layout.tag_id(name).unwrap_or_else(|| panic!("no tag {name} in the layout")).index()
    }

    fn sample(&self, name: &str) -> &Sample {
        self.store.get(self.layout.tag_id(name).expect("tag")).expect("every tag has a slot")
    }

    fn quality(&self, name: &str) -> &Quality {
        &self.sample(name).quality
    }

    /// Bad because the connection is down, with a reason holding every word of `words`.
    fn is_down(&self, name: &str, words: &[&str]) -> bool {
        matches!(self.quality(name), Quality::Bad(Reason::Disconnected(r)) if words.iter().all(|w| r.contains(w)))
    }

    fn value(&self, name: &str) -> Option<&Value> {
        self.sample(name).value.as_ref()
    }

    /// Why the tag is not Good, in words ("" when Good).
    fn reason(&self, name: &str) -> String {
        self.quality(name).reason().map(|r| r.to_string()).unwrap_or_default()
    }

    fn received(&self, name: &str) -> u32 {
        let i = self.index(name);
        self.good[i] + self.not_good[i]
    }

    fn good_values(&self, name: &str) -> &[Value] {
        &self.good_values[self.index(name)]
    }

    fn fresh(&self, name: &str) -> u32 {
        self.fresh[self.index(name)]
    }

    /// `name` received a sample and its quality is `q`.
    fn is(&self, name: &str, q: &Quality) -> bool {
        self.received(name) > 0 && self.quality(name) == q
    }

    fn is_good(&self, name: &str) -> bool {
        self.is(name, &Quality::Good)
    }

    fn all_good(&self) -> bool {
        self.layout.tags.iter().all(|t| self.is_good(&t.name))
    }

    fn state(&self, conn: u16) -> Option<&ConnectionState> {
        self.states.iter().rev().find(|(c, _)| c.0 == conn).map(|(_, s)| s)
    }

    /// Reasons of the Disconnected states of `conn` reported since `from` (an index into `states`).
    fn disconnects_since(&self, conn: u16, from: usize) -> Vec<&str> {
        self.states[from.min(self.states.len())..]
            .iter()
            .filter(|(c, _)| c.0 == conn)
            .filter_map(|(_, s)| match s {
                ConnectionState::Disconnected { reason, .. } => Some(reason.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Connection attempts (`Connecting`) of `conn` since `from`.
    fn attempts_since(&self, conn: u16, from: usize) -> usize {
        self.states[from.min(self.states.len())..]
            .iter()
            .filter(|(c, s)| c.0 == conn && *s == ConnectionState::Connecting)
            .count()
    }

    /// Times `conn` said Connected and then changed state again with nothing received in
    /// between (no Good sample, no Fresh confirmation): "up" while nothing arrived.
    fn silent_up_periods(&self, conn: u16) -> usize {
        let of_conn: Vec<usize> = (0..self.states.len()).filter(|&i| self.states[i].0.0 == conn).collect();
        of_conn
            .windows(2)
            .filter(|w| {
                self.states[w[0]].1 == ConnectionState::Connected
                    && self.states[w[1]].1 != ConnectionState::Stopped
                    && self.arrivals_at_state[w[1]] == self.arrivals_at_state[w[0]]
            })
            .count()
    }

    /// The first Disconnected reason of `conn` that contains every one of `words`.
    fn disconnect_with(&self, conn: u16, words: &[&str]) -> Option<&str> {
        self.disconnects_since(conn, 0).into_iter().find(|r| words.iter().all(|w| r.contains(w)))
    }

    fn summary(&self) -> String {
        let tags: Vec<String> = self
            .layout
            .tags
            .iter()
            .take(20)
            .map(|t| {
                format!(
                    "{} = {:?} ({}, {} samples, {} fresh)",
                    t.name,
                    self.value(&t.name),
                    self.quality(&t.name),
                    self.received(&t.name),
                    self.fresh(&t.name)
                )
            })
            .collect();
        let states: Vec<String> =
            self.states.iter().rev().take(8).rev().map(|(c, s)| format!("{}: {s:?}", c.0)).collect();
        format!("states (last 8): {states:#?}\ntags (first 20): {tags:#?}\nitems events: {}", self.items.len())
    }
}

/// The driver tasks of every connection of a layout, and their events.
struct Harness {
    view: View,
    rx: mpsc::Receiver<DriverEvent>,
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
}

impl Harness {
    /// Starts one driver task per connection, all with the client PKI folder `pki`. With several
    /// connections the client's certificate is made first (by one `prepare` of the first
    /// connection, whatever its outcome: so it must answer), so the tasks do not race to create
    /// it in the same folder.
    async fn start(src: &str, pki: &Path) -> Harness {
        let layout = parse(src);
        let jobs: Vec<UaJob> = (0..layout.connections.len()).map(|c| job(&layout, c as u16, pki)).collect();
        if jobs.len() > 1 {
            let _ = prepare(&jobs[0]).await;
            assert!(pki.join("own").join("cert.der").is_file(), "prepare makes the client's certificate");
        }
        Self::spawn(layout, jobs)
    }

    /// Like [`Self::start`], but each connection has a PKI folder of its own under `pki`, named
    /// after it (for connections to servers that never answer, which trust nothing anyway).
    fn start_apart(src: &str, pki: &Path) -> Harness {
        let layout = parse(src);
        let jobs = (0..layout.connections.len())
            .map(|c| job(&layout, c as u16, &pki.join(&layout.connections[c].name)))
            .collect();
        Self::spawn(layout, jobs)
    }

    fn spawn(layout: Layout, jobs: Vec<UaJob>) -> Harness {
        let (tx, rx) = mpsc::channel::<DriverEvent>(4096);
        let (stop, stop_rx) = watch::channel(false);
        let tasks = jobs.into_iter().map(|j| tokio::spawn(run(j, tx.clone(), stop_rx.clone(), None))).collect();
        Harness { view: View::new(layout), rx, stop, tasks }
    }

    /// Folds events until `pred` holds; fails the test at `deadline`.
    async fn wait_until(&mut self, deadline: Instant, what: &str, mut pred: impl FnMut(&View) -> bool) {
        loop {
            if pred(&self.view) {
                return;
            }
            let now = Instant::now();
            if now >= deadline {
                let failures = self.task_failures().await;
                panic!("timed out waiting for: {what}{failures}\n{}", self.view.summary());
            }
            match tokio::time::timeout_at(deadline.min(now + ms(20)), self.rx.recv()).await {
                Ok(Some(e)) => self.view.fold(e),
                Ok(None) => {
                    let failures = self.task_failures().await;
                    panic!("the driver stopped while waiting for: {what}{failures}\n{}", self.view.summary());
                }
                Err(_) => {}
            }
        }
    }

    /// [`Self::wait_until`] `within` from now; returns how long it took.
    async fn wait_for(&mut self, within: Duration, what: &str, pred: impl FnMut(&View) -> bool) -> Duration {
        let t0 = Instant::now();
        self.wait_until(t0 + within, what, pred).await;
        t0.elapsed()
    }

    async fn task_failures(&mut self) -> String {
        let mut out = String::new();
        for t in &mut self.tasks {
            if t.is_finished()
                && let Err(e) = t.await
            {
                out += &format!("\n  driver task failed: {e}");
            }
        }
        out
    }

    fn assert_running(&self) {
        assert!(self.tasks.iter().all(|t| !t.is_finished()), "a driver task ended\n{}", self.view.summary());
    }

    /// Asks every task to stop; waits (1 s at most) for each connection's Stopped and for the
    /// tasks to end. Returns the view and how long it took.
    async fn shutdown(mut self) -> (View, Duration) {
        let t0 = Instant::now();
        self.stop.send(true).expect("the tasks hold receivers");
        let n = self.view.layout.connections.len();
        self.wait_for(secs(1), "State(Stopped) of every connection", |v| {
            (0..n as u16).all(|c| v.state(c) == Some(&ConnectionState::Stopped))
        })
        .await;
        for t in std::mem::take(&mut self.tasks) {
            tokio::time::timeout(secs(1), t).await.expect("the task ends after Stopped").expect("no panic");
        }
        let took = t0.elapsed();
        while let Ok(e) = self.rx.try_recv() {
            self.view.fold(e);
        }
        (self.view, took)
    }
}

fn not_connected() -> Quality {
    Quality::Bad(Reason::NotConnected)
}

// ---------------------------------------------------------------------------------------------
// 1. Every value type

#[tokio::test]
async fn every_value_type_decodes_with_security_none_and_anonymous() {
    let dir = TempDir::new("types");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    use test_values as tv;
    let expect: Vec<(&str, &str, Value)> = vec![
        ("BOOLEAN", node::TEST_BOOLEAN, Value::Bool(tv::BOOLEAN)),
        ("SBYTE", node::TEST_SBYTE, Value::Int(tv::SBYTE.into())),
        ("BYTE", node::TEST_BYTE, Value::UInt(tv::BYTE.into())),
        ("INT16", node::TEST_INT16, Value::Int(tv::INT16.into())),
        ("UINT16", node::TEST_UINT16, Value::UInt(tv::UINT16.into())),
        ("INT32", node::TEST_INT32, Value::Int(tv::INT32.into())),
        ("UINT32", node::TEST_UINT32, Value::UInt(tv::UINT32.into())),
        ("INT64", node::TEST_INT64, Value::Int(tv::INT64)),
        ("UINT64", node::TEST_UINT64, Value::UInt(tv::UINT64)),
        ("FLOAT", node::TEST_FLOAT, Value::Float(tv::FLOAT.into())),
        ("DOUBLE", node::TEST_DOUBLE, Value::Float(tv::DOUBLE)),
        ("STRING", node::TEST_STRING, Value::Text("Grüße, 世界".into())),
        ("BYTESTRING", node::TEST_BYTESTRING, Value::Text("0xdeadbeef00ff".into())),
        ("DOUBLE_ARRAY", node::TEST_DOUBLE_ARRAY, Value::Text("[0, -1.5, 3.25, 10000000000]".into())),
        ("INT32_ARRAY", node::TEST_INT32_ARRAY, Value::Text("[0, 1, -1, 2147483647, -2147483648]".into())),
        ("NAME", node::NAME, Value::Text("BOILER HOUSE SIM".into())),
        ("COUNTER", node::COUNTER, Value::UInt(0)),
    ];
    let mut src = LayoutSrc::default().conn("ua", &url(&sim), &[NONE]);
    for (name, id, _) in &expect {
        src = src.tag(name, "ua", &sim_node(id), "");
    }
    src = src.tag("DATETIME", "ua", &sim_node(node::TEST_DATETIME), "");
    let mut h = Harness::start(&src.build(), &dir.client_pki()).await;

    h.wait_for(secs(10), "every tag Good", |v| v.all_good()).await;
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected));
    for (name, _, want) in &expect {
        assert_eq!(h.view.value(name), Some(want), "{name}");
    }
    // DateTime as text, in UTC (a local-time conversion would move the hour).
    match h.view.value("DATETIME") {
        Some(Value::Text(t)) => {
            assert!(t.starts_with("2024-01-02") && t.contains("03:04:05"), "DateTime shown as {t:?}")
        }
        other => panic!("DateTime as text expected: {other:?}"),
    }
    // Source timestamps are kept: the fixed values carry the server's start, the live ones the
    // last publish (both a moment ago).
    for t in &h.view.layout.tags {
        let ts = h.view.sample(&t.name).source_ts.unwrap_or_else(|| panic!("{} has a source timestamp", t.name));
        let age = SystemTime::now().duration_since(ts).unwrap_or_else(|e| e.duration());
        assert!(age < secs(60), "{}: source timestamp {age:?} away from now", t.name);
        let server = h.view.sample(&t.name).server_ts.unwrap_or_else(|| panic!("{} has a server timestamp", t.name));
        let age = SystemTime::now().duration_since(server).unwrap_or_else(|e| e.duration());
        assert!(age < secs(60), "{}: server timestamp {age:?} away from now", t.name);
    }
    // The monitored items as the server created them.
    let (conn, items, publishing) = h.view.items.last().expect("a Diagnostics event").clone();
    assert_eq!(conn, ConnId(0));
    assert_eq!(items.len(), expect.len() + 1, "{items:?}");
    assert!(items.iter().all(|i| i.status == "Good"), "{items:?}");
    assert_eq!(publishing, vec![publishing_fact(ms(100))], "revised publishing interval");
    // Unchanged values are confirmed as Fresh on every publish (keep-alives at least every 1 s).
    h.wait_for(secs(5), "two Fresh confirmations of every tag", |v| {
        v.layout.tags.iter().all(|t| v.fresh(&t.name) >= 2)
    })
    .await;
    assert!(h.view.all_good(), "{}", h.view.summary());

    let (v, took) = h.shutdown().await;
    assert!(took < secs(1), "shutdown took {took:?}");
    assert!(v.is("INT64", &not_connected()), "after shutdown: {}", v.quality("INT64"));
    assert_eq!(v.value("INT64"), Some(&Value::Int(tv::INT64)), "last value kept");
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 2. Secure channels with a user name

#[tokio::test]
async fn secure_policies_with_username_and_password_read_values() {
    let dir = TempDir::new("secure");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let pass = dir.password_file(DEFAULT_PASSWORD);
    let u = user(&pass);
    let endpoint = url(&sim);
    let b256 = secure("Basic256Sha256", "SignAndEncrypt");
    let aes256 = secure("Aes256_Sha256_RsaPss", "SignAndEncrypt");
    let aes128 = secure("Aes128_Sha256_RsaOaep", "Sign");
    let src = LayoutSrc::default()
        .conn("b256", &endpoint, &[&b256, &u])
        .conn("aes256", &endpoint, &[&aes256, &u])
        .conn("aes128", &endpoint, &[&aes128, &u])
        .tag("B_INT32", "b256", &sim_node(node::TEST_INT32), "")
        .tag("B_STRING", "b256", &sim_node(node::TEST_STRING), "")
        .tag("A256_DOUBLE", "aes256", &sim_node(node::TEST_DOUBLE), "")
        .tag("A128_UINT64", "aes128", &sim_node(node::TEST_UINT64), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(15), "every tag Good over the secure channels", |v| v.all_good()).await;
    assert_eq!(h.view.value("B_INT32"), Some(&Value::Int(test_values::INT32.into())));
    assert_eq!(h.view.value("B_STRING"), Some(&Value::Text(test_values::STRING.into())));
    assert_eq!(h.view.value("A256_DOUBLE"), Some(&Value::Float(test_values::DOUBLE)));
    assert_eq!(h.view.value("A128_UINT64"), Some(&Value::UInt(test_values::UINT64)));
    for c in 0..3 {
        assert_eq!(h.view.state(c), Some(&ConnectionState::Connected), "connection {c}");
        assert!(h.view.disconnects_since(c, 0).is_empty(), "connection {c}: {:?}", h.view.disconnects_since(c, 0));
    }
    let (_, took) = h.shutdown().await;
    assert!(took < secs(1), "shutdown took {took:?}");
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 3. Wrong password

#[tokio::test]
async fn a_wrong_password_is_reported_within_seconds_and_retried() {
    let dir = TempDir::new("password");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let wrong = "definitely-not-the-password";
    let pass = dir.password_file(wrong);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[&secure("Basic256Sha256", "SignAndEncrypt"), &user(&pass)])
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .tag("DOUBLE", "ua", &sim_node(node::TEST_DOUBLE), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;

    let took = h
        .wait_for(secs(10), "a Disconnected naming the refusal and the user", |v| {
            v.disconnect_with(0, &["refused", USERNAME]).is_some()
        })
        .await;
    assert!(took < secs(5), "the refusal took {took:?}");
    let reason = h.view.disconnect_with(0, &["refused", USERNAME]).expect("just seen").to_string();
    assert!(!reason.contains(wrong), "the password shows in the message: {reason}");
    // The tags say why (issue 12 A.5: a wrong password showed only "not connected").
    h.wait_for(secs(2), "tags Bad(not connected: refused, with the user)", |v| {
        v.is_down("INT32", &["refused", USERNAME]) && v.is_down("DOUBLE", &["refused", USERNAME])
    })
    .await;

    // Retried (with backoff), refused again; never Connected, never a Good value.
    let from = h.view.states.len();
    h.wait_for(secs(10), "another attempt, refused again", |v| {
        v.attempts_since(0, from) >= 1 && v.disconnects_since(0, from).iter().any(|r| r.contains("refused"))
    })
    .await;
    h.assert_running();
    assert!(!h.view.states.iter().any(|(_, s)| s.is_connected()), "{}", h.view.summary());
    assert_eq!(h.view.good_values("INT32").len(), 0);

    let (v, took) = h.shutdown().await;
    assert!(took < secs(1), "shutdown while backing off took {took:?}");
    assert!(v.is("INT32", &not_connected()), "stopped: {}", v.quality("INT32"));
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 4. Untrusted server certificate

#[tokio::test]
async fn an_untrusted_server_certificate_names_the_file_and_connects_once_trusted() {
    let dir = TempDir::new("untrusted");
    let sim = start_sim(&dir, 0, None).await;
    // Deliberately no trust_sim.
    let pass = dir.password_file(DEFAULT_PASSWORD);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[&secure("Basic256Sha256", "SignAndEncrypt"), &user(&pass)])
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .build();
    let pki_dir = dir.client_pki();
    let mut h = Harness::start(&src, &pki_dir).await;

    let took = h
        .wait_for(secs(10), "a Disconnected naming `ttyhmi trust`", |v| {
            v.disconnect_with(0, &["ttyhmi trust"]).is_some()
        })
        .await;
    assert!(took < secs(5), "the rejection took {took:?}");
    let reason = h.view.disconnect_with(0, &["ttyhmi trust"]).expect("just seen").to_string();
    let rejected = pki::rejected(&pki_dir);
    let file = rejected.first().unwrap_or_else(|| panic!("a rejected certificate is saved; reason: {reason}"));
    assert!(file.starts_with(pki_dir.join("rejected")), "{}", file.display());
    assert!(reason.contains(&file.display().to_string()), "the reason names {}: {reason}", file.display());
    assert!(reason.contains("not trusted"), "{reason}");
    h.wait_for(secs(2), "the tag Bad(not connected: not trusted)", |v| v.is_down("INT32", &["not trusted"])).await;
    assert!(!h.view.states.iter().any(|(_, s)| s.is_connected()), "never trusted silently");

    // The operator trusts it; a later retry connects (the backoff is short after one failure).
    let trusted = pki::trust(&pki_dir, file).expect("trust the rejected certificate");
    assert!(trusted.starts_with(pki_dir.join("trusted")) && trusted.is_file(), "{}", trusted.display());
    assert!(!file.exists(), "moved out of rejected/");
    let took = h
        .wait_for(secs(20), "Connected and Good after trusting", |v| {
            v.state(0) == Some(&ConnectionState::Connected) && v.is_good("INT32")
        })
        .await;
    assert_eq!(h.view.value("INT32"), Some(&Value::Int(test_values::INT32.into())));
    eprintln!("connected {took:?} after trusting");
    h.shutdown().await;
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 5. Server stopped and restarted

#[tokio::test]
async fn server_stop_makes_tags_bad_and_a_restart_makes_values_flow_again_within_5_s() {
    let dir = TempDir::new("restart");
    let sim = start_sim(&dir, 0, Some(ms(100))).await;
    trust_sim(&dir, &sim);
    let port = sim.opcua_addr.expect("OPC UA runs").port();
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("COUNTER", "ua", &sim_node(node::COUNTER), "")
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "the counter moving", |v| v.all_good() && v.good_values("COUNTER").len() >= 3).await;

    sim.stop().await;
    h.wait_for(secs(5), "tags Bad(not connected) and Disconnected", |v| {
        v.is_down("COUNTER", &[])
            && v.is_down("INT32", &[])
            && matches!(v.state(0), Some(ConnectionState::Disconnected { .. }))
    })
    .await;
    assert!(matches!(h.view.value("COUNTER"), Some(Value::UInt(_))), "last value kept: {:?}", h.view.value("COUNTER"));
    assert_eq!(h.view.value("INT32"), Some(&Value::Int(test_values::INT32.into())), "last value kept");
    h.assert_running();

    let sim = start_sim(&dir, port, Some(ms(100))).await;
    assert_eq!(sim.opcua_addr.map(|a| a.port()), Some(port), "same port");
    let from = h.view.good_values("COUNTER").len();
    let took = h
        .wait_for(secs(15), "three new counter values after the restart", |v| {
            let mut new: Vec<&Value> = v.good_values("COUNTER")[from..].iter().collect();
            new.dedup();
            new.len() >= 3 && v.is_good("INT32")
        })
        .await;
    assert!(took < secs(5), "values flowed again only after {took:?}\n{}", h.view.summary());
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected));
    h.shutdown().await;
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 6. Namespaces, unknown nodes, revised intervals

#[tokio::test]
async fn nsu_resolves_and_unknown_namespaces_and_nodes_are_bad_on_that_tag_only() {
    let dir = TempDir::new("nsu");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let ns = sim.opcua_namespace_index().expect("OPC UA runs");
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("BY_INDEX", "ua", &format!("ns={ns};s={}", node::TEST_INT32), "")
        .tag("BY_URI", "ua", &sim_node(node::TEST_INT32), ", sampling: 20ms")
        .tag("SERVER_STATE", "ua", "i=2259", "")
        .tag("NO_NAMESPACE", "ua", &format!("nsu=urn:no:such:namespace;s={}", node::TEST_INT32), "")
        .tag("NO_NODE", "ua", &sim_node("No.Such.Node"), "")
        .tag("UINT16", "ua", &sim_node(node::TEST_UINT16), ", sampling: 500ms")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "the good tags Good and the bad ones Bad", |v| {
        ["BY_INDEX", "BY_URI", "SERVER_STATE", "UINT16"].iter().all(|t| v.is_good(t))
            && v.received("NO_NAMESPACE") > 0
            && !v.reason("NO_NAMESPACE").is_empty()
            && v.received("NO_NODE") > 0
            && !v.reason("NO_NODE").is_empty()
    })
    .await;
    let int32 = Value::Int(test_values::INT32.into());
    assert_eq!(h.view.value("BY_INDEX"), Some(&int32));
    assert_eq!(h.view.value("BY_URI"), Some(&int32));
    assert_eq!(h.view.value("SERVER_STATE"), Some(&Value::Int(0)), "ServerState Running (an enumeration, Int32)");
    assert_eq!(h.view.value("UINT16"), Some(&Value::UInt(test_values::UINT16.into())));
    let r = h.view.reason("NO_NAMESPACE");
    assert!(matches!(h.view.quality("NO_NAMESPACE"), Quality::Bad(_)), "{}", h.view.quality("NO_NAMESPACE"));
    assert!(r.contains("urn:no:such:namespace"), "the reason names the namespace: {r}");
    let r = h.view.reason("NO_NODE");
    assert!(matches!(h.view.quality("NO_NODE"), Quality::Bad(_)), "{}", h.view.quality("NO_NODE"));
    assert!(r.contains("Bad_NodeIdUnknown"), "{r}");
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected), "bad tags do not break the connection");

    // The monitored items as revised: every requested item listed, with its status.
    let (_, items, publishing) = h.view.items.last().expect("a Diagnostics event").clone();
    assert_eq!(publishing, vec![publishing_fact(ms(100))]);
    let item = |name: &str| {
        let id = h.view.layout.tag_id(name).expect("tag");
        items.iter().find(|i| i.tag == id).unwrap_or_else(|| panic!("no item for {name}: {items:?}")).clone()
    };
    assert!(!items.iter().any(|i| Some(i.tag) == h.view.layout.tag_id("NO_NAMESPACE")), "not requested: {items:?}");
    let _ = item("NO_NODE"); // Its status: see unknown_nodes_are_refused_items_and_never_confirmed_fresh.
    for name in ["BY_INDEX", "BY_URI", "SERVER_STATE", "UINT16"] {
        let i = item(name);
        assert_eq!(i.status, "Good", "{name}");
    }
    // 20 ms asked of a variable that samples at 100 ms at best: the server's revision is shown.
    assert!(item("BY_URI").revised_sampling >= ms(100), "{:?}", item("BY_URI"));
    assert_eq!(item("UINT16").revised_sampling, ms(500), "{:?}", item("UINT16"));

    // Keep-alive confirmations go to the good tags only; the bad ones stay Bad.
    h.wait_for(secs(5), "Fresh confirmations of the good tags", |v| v.fresh("BY_URI") >= 2).await;
    assert_eq!(h.view.fresh("NO_NAMESPACE"), 0, "an unresolved tag is never confirmed fresh");
    assert!(matches!(h.view.quality("NO_NODE"), Quality::Bad(_)));
    assert!(h.view.is_good("BY_INDEX"));
    h.shutdown().await;
    sim.stop().await;
}

/// async-opcua's server answers a sampling interval of -1 ("the publishing interval") with a
/// revised interval of -1, not the interval it uses; the driver clamps that to zero
/// (`revised_sampling_interval.max(0.0)` in `Task::subscribe`), so the diagnostics view shows
/// 0 ns for every tag without its own `sampling:`. It should show the interval in use: the
/// (revised) publishing interval.
#[tokio::test]
async fn items_sampled_at_the_publishing_interval_show_it_as_their_revised_sampling() {
    let dir = TempDir::new("revised");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "a Diagnostics event", |v| !v.items.is_empty()).await;
    let (_, items, publishing) = h.view.items.last().expect("just seen").clone();
    h.shutdown().await;
    sim.stop().await;
    assert_eq!(publishing, vec![publishing_fact(ms(100))]);
    assert_eq!(items.first().map(|i| i.revised_sampling), Some(ms(100)), "{items:?}");
}

/// The issue: "`nsu=` resolved through the server's NamespaceArray at every (re)connect, so
/// layouts survive namespace index changes" (and the module doc of `driver::opcua` says the
/// task re-resolves after every reconnect). A server restarts with another namespace registered
/// first: the target namespace moves up one index, and a decoy namespace takes its old index,
/// with a node of the same string id. The driver resolves `nsu=` only in `subscribe`, once per
/// session task (`subscribed` is never reset on `Reconnected`), and async-opcua recreates the
/// monitored items with the old numeric index, so the tag silently shows the decoy's value,
/// Good.
#[tokio::test]
async fn nsu_is_resolved_again_after_a_restart_that_moves_the_namespace() {
    const TARGET: &str = "urn:ttyhmi:test:target";
    const DECOY: &str = "urn:ttyhmi:test:decoy";
    let dir = TempDir::new("ns-moves");
    let server_pki = dir.join("server-pki");
    let server = SmallServer::start(0, &server_pki, &[TARGET]).await;
    let port = server.port();
    let src = LayoutSrc::default()
        .conn("ua", &server.url, &[NONE])
        .tag("VALUE", "ua", &format!("nsu={TARGET};s=Value"), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "VALUE Good", |v| v.is_good("VALUE")).await;
    assert_eq!(h.view.value("VALUE"), Some(&Value::Text(TARGET.into())), "precondition: the target namespace");

    server.stop().await;
    h.wait_for(secs(5), "VALUE Bad(not connected: why)", |v| v.is_down("VALUE", &[])).await;
    let server = SmallServer::start(port, &server_pki, &[DECOY, TARGET]).await;
    let from = h.view.good_values("VALUE").len();
    h.wait_for(secs(15), "a Good value after the restart", |v| v.good_values("VALUE").len() > from).await;
    let after = h.view.value("VALUE").cloned();
    h.shutdown().await;
    server.stop().await;
    assert_eq!(after, Some(Value::Text(TARGET.into())), "the node in namespace {TARGET}, wherever its index is now");
}

/// OPC UA Part 4, 5.12.2: CreateMonitoredItems answers Bad_NodeIdUnknown for an item on a node
/// that does not exist. The simulator answers Good (async-opcua's default
/// `InMemoryNodeManagerImpl::create_value_monitored_items`, which `SimNodes` does not override,
/// sets Good for every Value item and sends the error as the first notification), so the
/// diagnostics view lists the item as Good and the driver confirms the Bad tag as Fresh.
#[tokio::test]
async fn unknown_nodes_are_refused_items_and_never_confirmed_fresh() {
    let dir = TempDir::new("unknown-node");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .tag("NO_NODE", "ua", &sim_node("No.Such.Node"), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "INT32 confirmed fresh twice, NO_NODE Bad", |v| {
        v.fresh("INT32") >= 2 && v.received("NO_NODE") > 0 && !v.is_good("NO_NODE")
    })
    .await;
    let (_, items, _) = h.view.items.last().expect("a Diagnostics event").clone();
    let no_node = h.view.layout.tag_id("NO_NODE").expect("tag");
    let status = items.iter().find(|i| i.tag == no_node).map(|i| i.status.clone());
    let fresh = h.view.fresh("NO_NODE");
    h.shutdown().await;
    sim.stop().await;
    assert_eq!(status.as_deref(), Some("Bad_NodeIdUnknown"), "the item's status in the diagnostics view");
    assert_eq!(fresh, 0, "a refused item is never confirmed fresh");
}

/// Splits a command line as a POSIX shell would (quotes and backslashes); an unquoted glob
/// character is an error (zsh refuses a glob that matches nothing; bash may expand it).
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word: Option<String> = None;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' => {
                if let Some(w) = word.take() {
                    words.push(w);
                }
            }
            '\'' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(x) => w.push(x),
                        None => return Err("unterminated single quote".into()),
                    }
                }
            }
            '"' => {
                let w = word.get_or_insert_with(String::new);
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => w.extend(chars.next()),
                        Some(x) => w.push(x),
                        None => return Err("unterminated double quote".into()),
                    }
                }
            }
            '\\' => word.get_or_insert_with(String::new).extend(chars.next()),
            '[' | '*' | '?' => return Err(format!("unquoted glob character {c:?} in {line:?}")),
            c => word.get_or_insert_with(String::new).push(c),
        }
    }
    words.extend(word);
    Ok(words)
}

#[test]
fn shell_words_splits_like_a_shell() {
    assert_eq!(
        shell_words("a 'b c' \"d\\\"e\" f\\ g"),
        Ok(vec!["a".into(), "b c".into(), "d\"e".into(), "f g".into()])
    );
    assert!(shell_words("ls x[1]").is_err());
    assert_eq!(shell_words("ls 'x[1]'"), Ok(vec!["ls".into(), "x[1]".into()]));
}

/// async-opcua names rejected certificates `<common name> [<thumbprint>].der`: spaces and
/// brackets (and whatever a server puts in its common name). The hint names the file and gives a
/// `ttyhmi trust …` command that, pasted into a shell, is one safe argument: the thumbprint, which
/// finds that file.
#[test]
fn the_trust_hint_is_a_command_that_can_be_pasted_into_a_shell() {
    let dir = TempDir::new("hint");
    let pki_dir = dir.client_pki();
    std::fs::create_dir_all(pki_dir.join("rejected")).expect("rejected folder");
    let der = test_certificate("ttyhmi simulated plant", "urn:ttyhmi:test", &["localhost"]);
    let s = pki::summary(&der).expect("a certificate");
    let file = pki_dir.join("rejected").join(&s.file_name);
    std::fs::write(&file, &der).expect("a rejected certificate");
    let hint = pki::untrusted_hint(&pki_dir, &file, &s);
    assert!(hint.contains(&file.display().to_string()), "names the file: {hint}");
    let command = hint
        .split('`')
        .find(|part| part.starts_with("ttyhmi trust"))
        .unwrap_or_else(|| panic!("a `ttyhmi trust …` command in {hint:?}"));
    let words = shell_words(command).unwrap_or_else(|e| panic!("{command}: {e}"));
    assert_eq!(words[..2], ["ttyhmi", "trust"], "{command}");
    assert_eq!(words.len(), 3, "{command}");
    assert_eq!(pki::find(&pki_dir, Path::new(&words[2])), Ok(file), "the argument finds the file");
}

/// A certificate made by a test: common name, application URI, host names (DER).
fn test_certificate(cn: &str, uri: &str, hosts: &[&str]) -> Vec<u8> {
    let hosts = hosts.iter().map(|h| h.to_string()).collect();
    let data = opcua::crypto::X509Data {
        key_size: 2048,
        common_name: cn.into(),
        organization: "ttyhmi tests".into(),
        organizational_unit: "opcua driver".into(),
        country: "IE".into(),
        state: "Dublin".into(),
        alt_host_names: opcua::crypto::X509Data::alt_host_names(uri, Some(hosts), false, false, false),
        certificate_duration_days: 30,
    };
    let (cert, _) = opcua::crypto::X509::cert_and_pkey(&data).expect("a certificate");
    cert.to_der().expect("DER")
}

// ---------------------------------------------------------------------------------------------
// 7. No matching endpoint

#[tokio::test]
async fn a_server_without_the_endpoint_asked_for_lists_what_it_offers() {
    let dir = TempDir::new("endpoints");
    let server = SmallServer::start(0, &dir.join("server-pki"), &[]).await;
    let pass = dir.password_file("whatever");
    let src = LayoutSrc::default()
        .conn("ua", &server.url, &[&secure("Basic256Sha256", "SignAndEncrypt"), &user(&pass)])
        .tag("SERVER_STATE", "ua", "i=2259", "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "a Disconnected listing the offered endpoints", |v| {
        v.disconnect_with(0, &["offers"]).is_some()
    })
    .await;
    let reason = h.view.disconnect_with(0, &["offers"]).expect("just seen").to_string();
    assert!(reason.contains("Basic256Sha256/SignAndEncrypt"), "names what was asked for: {reason}");
    assert!(reason.contains("None/None"), "names what is offered: {reason}");
    assert!(h.view.is_down("SERVER_STATE", &["offers"]), "{}", h.view.quality("SERVER_STATE"));
    // Retried (the server may be reconfigured), still refused.
    let from = h.view.states.len();
    h.wait_for(secs(10), "another attempt", |v| v.disconnects_since(0, from).iter().any(|r| r.contains("offers")))
        .await;
    h.assert_running();
    h.shutdown().await;

    // The same server with what it offers: connects.
    let src = LayoutSrc::default().conn("ua", &server.url, &[NONE]).tag("SERVER_STATE", "ua", "i=2259", "").build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "Good over security None", |v| v.is_good("SERVER_STATE")).await;
    h.shutdown().await;
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 8. Driver-level writes

/// Reads a node's value through `session`, converted as the driver converts it.
async fn read_value(session: &opcua::client::Session, node: &NodeId) -> Option<Value> {
    let r = ReadValueId { node_id: node.clone(), attribute_id: AttributeId::Value as u32, ..Default::default() };
    let dv = tokio::time::timeout(secs(5), session.read(&[r], TimestampsToReturn::Neither, 0.0))
        .await
        .expect("read in time")
        .expect("read");
    dv.first().and_then(|d| d.value.as_ref()).and_then(convert::value)
}

#[tokio::test]
async fn writes_convert_to_the_node_type_read_back_and_refuse_what_does_not_fit() {
    let dir = TempDir::new("writes");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let ns = sim.opcua_namespace_index().expect("OPC UA runs");
    let pass = dir.password_file(DEFAULT_PASSWORD);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[&secure("Basic256Sha256", "SignAndEncrypt"), &user(&pass)])
        .tag("W_INT32", "ua", &sim_node(node::WRITABLE_INT32), "")
        .build();
    let layout = parse(&src);
    let (session, event_loop) = prepare(&job(&layout, 0, &dir.client_pki())).await.expect("prepare a session");
    let event_loop = event_loop.spawn();
    let connected = tokio::time::timeout(secs(10), session.wait_for_connection()).await;
    assert_eq!(connected, Ok(true), "the session connects");
    // A driver watching one of the writable nodes sees what is written.
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "W_INT32 Good", |v| v.is_good("W_INT32")).await;
    assert_eq!(h.view.value("W_INT32"), Some(&Value::Int(0)), "initially 0");

    let id = |s: &str| NodeId::new(ns, s);
    let writes: [(&str, Value, Value); 10] = [
        (node::WRITABLE_BOOLEAN, Value::Bool(true), Value::Bool(true)),
        (node::WRITABLE_INT16, Value::Int(-2), Value::Int(-2)),
        (node::WRITABLE_UINT16, Value::UInt(65535), Value::UInt(65535)),
        (node::WRITABLE_INT32, Value::Int(i32::MIN.into()), Value::Int(i32::MIN.into())),
        (node::WRITABLE_UINT32, Value::UInt(u32::MAX.into()), Value::UInt(u32::MAX.into())),
        (node::WRITABLE_FLOAT, Value::Float(0.25), Value::Float(0.25)),
        (node::WRITABLE_DOUBLE, Value::Float(-1.0e300), Value::Float(-1.0e300)),
        (node::WRITABLE_STRING, Value::Text("Grüße µ".into()), Value::Text("Grüße µ".into())),
        // Converted to the node's type: a whole float into an integer, an integer into a float.
        (node::WRITABLE_INT16, Value::Float(7.0), Value::Int(7)),
        (node::WRITABLE_FLOAT, Value::Int(3), Value::Float(3.0)),
    ];
    for (node_id, value, back) in &writes {
        let got = write::write_value(&session, &id(node_id), value).await;
        assert_eq!(got, Ok(Some(back.clone())), "{node_id} ← {value:?}");
        assert_eq!(read_value(&session, &id(node_id)).await.as_ref(), Some(back), "{node_id} read again");
    }
    h.wait_for(secs(5), "the driver sees the written Int32", |v| {
        v.value("W_INT32") == Some(&Value::Int(i32::MIN.into()))
    })
    .await;
    assert!(h.view.is_good("W_INT32"));

    // A setpoint within its range changes the plant.
    let sp = id(node::PRESSURE_SP);
    assert_eq!(write::write_value(&session, &sp, &Value::Float(12.5)).await, Ok(Some(Value::Float(12.5))));
    assert_eq!(sim.with_plant(|p| p.cmd.pressure_sp), 12.5);

    // Refusals: each names why, and nothing is written.
    let refusals: [(&str, Value, &str); 7] = [
        (node::PRESSURE_SP, Value::Float(99.0), "Bad_OutOfRange"),
        (node::WRITABLE_INT32, Value::Text("12".into()), "number"),
        (node::WRITABLE_INT16, Value::Int(40_000), "out of range"),
        (node::WRITABLE_UINT32, Value::Float(2.5), "whole"),
        (node::WRITABLE_BOOLEAN, Value::Int(7), "true or false"),
        (node::TEST_INT32, Value::Int(1), "Bad_"),
        ("No.Such.Node", Value::Int(1), "Bad_NodeIdUnknown"),
    ];
    for (node_id, value, why) in &refusals {
        let before = read_value(&session, &id(node_id)).await;
        let got = write::write_value(&session, &id(node_id), value).await;
        match &got {
            Err(m) => assert!(m.to_string().contains(why), "{node_id} ← {value:?}: {m:?} should name {why:?}"),
            Ok(back) => panic!("{node_id} ← {value:?} was written (read back {back:?})"),
        }
        assert_eq!(read_value(&session, &id(node_id)).await, before, "{node_id}: nothing written");
    }
    assert_eq!(sim.with_plant(|p| p.cmd.pressure_sp), 12.5, "the refused setpoint changed nothing");
    let ro = write::write_value(&session, &id(node::TEST_INT32), &Value::Int(1)).await;
    assert!(ro.as_ref().is_err_and(|m| m.to_string().contains("refused")), "a read-only node: {ro:?}");
    assert!(matches!(ro, Err(WriteError::Refused(_))), "the server refused it: {ro:?}");

    h.shutdown().await;
    let _ = tokio::time::timeout(secs(5), session.disconnect()).await;
    event_loop.abort();
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 9. Servers that vanish mid-handshake or answer garbage

#[tokio::test]
async fn servers_that_vanish_mid_handshake_or_answer_garbage_give_a_reason_and_are_retried() {
    let dir = TempDir::new("vanish");
    let cases = [Misbehave::Close, Misbehave::Garbage, Misbehave::HelloThenClose];
    let mut src = LayoutSrc::default();
    let mut servers = Vec::new();
    for (i, how) in cases.iter().enumerate() {
        let (u, task) = raw_server(*how).await;
        src = src.conn(&format!("c{i}"), &u, &[NONE]).tag(&format!("T{i}"), &format!("c{i}"), "i=2259", "");
        servers.push((u, task));
    }
    let mut h = Harness::start_apart(&src.build(), &dir.client_pki());
    // One failed attempt and the start of the next (each attempt takes 5 s for now: see
    // a_refused_or_closed_connection_is_reported_at_once_with_its_cause).
    h.wait_for(secs(15), "a failed attempt and a retry of every connection", |v| {
        (0..cases.len() as u16).all(|c| v.attempts_since(c, 0) >= 2 && !v.disconnects_since(c, 0).is_empty())
    })
    .await;
    for (i, how) in cases.iter().enumerate() {
        let c = i as u16;
        let reasons = h.view.disconnects_since(c, 0);
        let (u, _) = &servers[i];
        assert!(reasons.iter().all(|r| r.contains(u.as_str())), "{how:?}: every reason names {u}: {reasons:?}");
        assert!(h.view.is_down(&format!("T{i}"), &[u.as_str()]), "{how:?}: {}", h.view.summary());
        assert!(!h.view.states.iter().any(|(cc, s)| cc.0 == c && s.is_connected()), "{how:?}");
    }
    h.assert_running();
    let (_, took) = h.shutdown().await;
    assert!(took < secs(1), "shutdown took {took:?}");
    for (_, t) in servers {
        t.abort();
    }
}

/// A refused or at once closed connection is known at once, and its cause is worth telling
/// (nobody listens there; something answered that is not OPC UA). `prepare` builds its client
/// with `session_retry_limit(-1)`, and async-opcua's discovery (`get_server_endpoints_from_url`
/// → `AsyncSecureChannel::connect`) retries with the session retry policy, so discovery retries
/// silently until the 5 s limit of `prepare` and every such failure reads "no answer from … within
/// 5s": slow, and wrong about the cause.
#[tokio::test]
async fn a_refused_or_closed_connection_is_reported_at_once_with_its_cause() {
    let dir = TempDir::new("refused");
    let closed_port = {
        let l = TcpListener::bind(loopback()).await.expect("bind");
        l.local_addr().expect("local address").port()
    };
    let (closes, task) = raw_server(Misbehave::Close).await;
    let src = LayoutSrc::default()
        .conn("nobody", &format!("opc.tcp://127.0.0.1:{closed_port}"), &[NONE])
        .conn("closes", &closes, &[NONE])
        .tag("A", "nobody", "i=2259", "")
        .tag("B", "closes", "i=2259", "")
        .build();
    let mut h = Harness::start_apart(&src, &dir.client_pki());
    let t0 = Instant::now();
    h.wait_for(secs(10), "a Disconnected of both connections", |v| {
        (0..2).all(|c| !v.disconnects_since(c, 0).is_empty())
    })
    .await;
    let took = t0.elapsed();
    let reasons: Vec<String> = (0..2).map(|c| h.view.disconnects_since(c, 0)[0].to_string()).collect();
    h.shutdown().await;
    task.abort();
    assert!(took < secs(2), "reported after {took:?}: {reasons:?}");
    for r in &reasons {
        assert!(!r.contains("no answer"), "the cause is not silence: {r}");
    }
}

// ---------------------------------------------------------------------------------------------
// 10. Shutdown

#[tokio::test]
async fn shutdown_while_connected_and_while_a_server_is_silent_stops_promptly() {
    let dir = TempDir::new("shutdown");
    let sim = start_sim(&dir, 0, Some(ms(100))).await;
    trust_sim(&dir, &sim);
    let (silent, silent_task) = raw_server(Misbehave::Silent).await;
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .conn("silent", &silent, &[NONE])
        .tag("COUNTER", "ua", &sim_node(node::COUNTER), "")
        .tag("QUIET", "silent", "i=2259", "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    // The silent connection is then in the middle of a discovery that waits for its timeout.
    h.wait_for(secs(10), "the counter moving, the silent server being tried", |v| {
        v.good_values("COUNTER").len() >= 2 && v.state(1) == Some(&ConnectionState::Connecting)
    })
    .await;
    let (v, took) = h.shutdown().await;
    assert!(took < secs(1), "shutdown took {took:?}");
    assert_eq!(v.state(0), Some(&ConnectionState::Stopped));
    assert_eq!(v.state(1), Some(&ConnectionState::Stopped));
    assert!(v.is("COUNTER", &not_connected()), "after shutdown: {}", v.quality("COUNTER"));
    assert!(matches!(v.value("COUNTER"), Some(Value::UInt(_))), "last value kept: {:?}", v.value("COUNTER"));
    silent_task.abort();
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 11. Writes through the connection task (the console's path)

/// Plans writing `value` to `tag` (with the DataTypes the driver reported) and sends the plan.
async fn send_write(
    wtx: &mpsc::Sender<ttyhmi::driver::WriteCommand>,
    h: &Harness,
    tag: ttyhmi::tag::TagId,
    value: Value,
) -> Result<ttyhmi::driver::WriteDone, WriteError> {
    let plan = ttyhmi::driver::plan::plan(&h.view.layout, tag, &value, h.view.data_types.get(&tag))
        .unwrap_or_else(|e| panic!("no plan for {value:?}: {e}"));
    send_plan(wtx, plan).await
}

async fn send_plan(
    wtx: &mpsc::Sender<ttyhmi::driver::WriteCommand>,
    plan: ttyhmi::driver::WritePlan,
) -> Result<ttyhmi::driver::WriteDone, WriteError> {
    let (reply, rx) = tokio::sync::oneshot::channel();
    let cmd = ttyhmi::driver::WriteCommand { plan, sent_at: std::time::Instant::now(), by: Default::default(), reply };
    wtx.send(cmd).await.expect("the task takes commands");
    tokio::time::timeout(secs(10), rx).await.expect("an answer in time").expect("a reply")
}

#[tokio::test]
async fn writes_through_the_connection_task_are_read_back_and_refused_while_down() {
    let dir = TempDir::new("ua-write-task");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let port = sim.opcua_addr.expect("OPC UA").port();
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("W_DOUBLE", "ua", &sim_node("Plant.Test.Writable.Double"), "")
        .tag("W_INT16", "ua", &sim_node("Plant.Test.Writable.Int16"), "")
        .tag("RO", "ua", &sim_node("Plant.Test.Int32"), "")
        .build();
    let layout = parse(&src);
    let j = job(&layout, 0, &dir.client_pki());
    let (tx, rx) = mpsc::channel::<DriverEvent>(4096);
    let (stop, stop_rx) = watch::channel(false);
    let (wtx, wrx) = mpsc::channel(1);
    let inbox = Some(std::sync::Arc::new(tokio::sync::Mutex::new(wrx)));
    let task = tokio::spawn(run(j, tx, stop_rx, inbox));
    let mut h = Harness { view: View::new(layout.clone()), rx, stop, tasks: vec![task] };
    h.wait_for(secs(10), "all Good and the DataTypes", |v| v.all_good() && v.data_types.len() == 3).await;
    let id = |n: &str| layout.tag_id(n).unwrap();

    let done = send_write(&wtx, &h, id("W_DOUBLE"), Value::Float(42.25)).await.expect("written");
    assert!(done.confirmed(), "{done:?}");
    assert!(done.how.contains("OPC UA Write"), "{}", done.how);
    h.wait_for(secs(5), "the subscription sees it", |v| v.value("W_DOUBLE") == Some(&Value::Float(42.25))).await;
    let done = send_write(&wtx, &h, id("W_INT16"), Value::Float(7.0)).await.expect("7.0 fits an Int16");
    assert!(done.confirmed(), "{done:?}");
    let e = send_write(&wtx, &h, id("RO"), Value::Int(1)).await.unwrap_err();
    assert!(!e.to_string().is_empty());
    assert!(matches!(e, WriteError::Refused(_)), "a read-only node refuses: {e:?}");

    // Down: refused at once, and nothing written when the server is back.
    sim.stop().await;
    h.wait_for(secs(10), "Bad", |v| !v.is_good("W_DOUBLE")).await;
    let t0 = std::time::Instant::now();
    let e = send_write(&wtx, &h, id("W_DOUBLE"), Value::Float(1.0)).await.unwrap_err();
    assert!(t0.elapsed() < secs(2), "refused at once: {:?}", t0.elapsed());
    assert!(e.to_string().contains("not written"), "{e}");
    assert!(matches!(e, WriteError::NotSent(_)), "{e:?}");
    let sim = start_sim(&dir, port, None).await;
    h.wait_for(secs(10), "Good again", |v| v.is_good("W_INT16")).await;
    // The restarted simulator starts from its initial values: nothing was replayed.
    tokio::time::sleep(ms(300)).await;
    let back = h.view.value("W_DOUBLE").cloned();
    assert_ne!(back, Some(Value::Float(1.0)), "the refused write was never sent");
    let _ = h.stop.send(true);
    for t in h.tasks.drain(..) {
        let _ = tokio::time::timeout(secs(2), t).await;
    }
    sim.stop().await;
}

/// A write sent while the connection is still being made (here: a discovery that waits for a
/// server that never answers) is refused at once, not held until the attempt fails: the reply
/// comes before the connection is reported down.
#[tokio::test]
async fn a_write_while_connecting_is_refused_at_once() {
    let dir = TempDir::new("write-connecting");
    let (silent, silent_task) = raw_server(Misbehave::Silent).await;
    let src = LayoutSrc::default().conn("silent", &silent, &[NONE]).tag("QUIET", "silent", "i=2259", "").build();
    let layout = parse(&src);
    let (tx, rx) = mpsc::channel::<DriverEvent>(4096);
    let (stop, stop_rx) = watch::channel(false);
    let (wtx, wrx) = mpsc::channel(1);
    let inbox = Some(std::sync::Arc::new(tokio::sync::Mutex::new(wrx)));
    let task = tokio::spawn(run(job(&layout, 0, &dir.client_pki()), tx, stop_rx, inbox));
    let mut h = Harness { view: View::new(layout.clone()), rx, stop, tasks: vec![task] };
    h.wait_for(secs(5), "Connecting", |v| v.state(0) == Some(&ConnectionState::Connecting)).await;
    let (reply, answer) = tokio::sync::oneshot::channel();
    let tag = layout.tag_id("QUIET").expect("tag");
    let plan = ttyhmi::driver::plan::plan(
        &layout,
        tag,
        &Value::Int(1),
        Some(&Ok(ttyhmi::driver::WireType::Ua(ttyhmi::driver::UaType::Int32))),
    )
    .expect("a plan");
    let cmd = ttyhmi::driver::WriteCommand { plan, sent_at: std::time::Instant::now(), by: Default::default(), reply };
    wtx.send(cmd).await.expect("the task takes commands");
    let mut answer = std::pin::pin!(answer);
    let down = |e: &DriverEvent| matches!(e, DriverEvent::State { state: ConnectionState::Disconnected { .. }, .. });
    let e = loop {
        tokio::select! {
            biased;
            e = h.rx.recv() => {
                let e = e.expect("the driver runs");
                assert!(!down(&e), "the write was held until the attempt failed\n{}", h.view.summary());
                h.view.fold(e);
            }
            r = &mut answer => break r.expect("a reply").expect_err("refused"),
        }
    };
    // What the driver said before it answered is in the channel already.
    while let Ok(e) = h.rx.try_recv() {
        assert!(!down(&e), "the write was held until the attempt failed\n{}", h.view.summary());
        h.view.fold(e);
    }
    let e = e.to_string();
    assert!(e.starts_with("not written") && e.contains("down"), "{e}");
    h.shutdown().await;
    silent_task.abort();
}

/// Issue 13: the panic-restarting supervisor took only Modbus connections, so an OPC UA task
/// that panicked froze its tags at their last values. The session is made to panic through a
/// hidden hook: its tags go Bad saying so, the connection says why, and the task is restarted.
#[tokio::test]
async fn the_opcua_driver_is_restarted_after_a_panic_and_its_tags_go_bad_meanwhile() {
    let dir = TempDir::new("panic");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let src = LayoutSrc::default()
        .conn("ua", &url(&sim), &[NONE])
        .tag("INT32", "ua", &sim_node(node::TEST_INT32), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "Good", View::all_good).await;
    let from = h.view.states.len();
    ttyhmi::driver::opcua::test_hook::panic_once(&url(&sim));
    let failed = |v: &View| {
        matches!(v.quality("INT32"), Quality::Bad(Reason::Other(r)) if r == "driver failed; restarting")
            && matches!(v.state(0), Some(ConnectionState::Disconnected { .. }))
    };
    h.wait_for(secs(10), "Bad: driver failed; restarting, and Disconnected", failed).await;
    assert_eq!(h.view.value("INT32"), Some(&Value::Int(test_values::INT32.into())), "the last value is kept");
    let reasons = h.view.disconnects_since(0, from);
    assert_eq!(reasons, vec!["driver failed (see the log); restarting"], "{}", h.view.summary());
    h.wait_for(secs(15), "Good again after the restart", |v| {
        v.all_good() && v.state(0) == Some(&ConnectionState::Connected)
    })
    .await;
    h.assert_running();
    h.shutdown().await;
}

/// A node's value as the server holds it: the Variant itself, not converted.
async fn read_variant(session: &opcua::client::Session, node: &NodeId) -> Option<opcua::types::Variant> {
    let r = ReadValueId { node_id: node.clone(), attribute_id: AttributeId::Value as u32, ..Default::default() };
    let dv = tokio::time::timeout(secs(5), session.read(&[r], TimestampsToReturn::Neither, 0.0))
        .await
        .expect("read in time")
        .expect("read");
    dv.first().and_then(|d| d.value.clone())
}

/// Issue 13 item 4: the Variant a write sends is the plan's, a Variant of the node's DataType as
/// the driver reported it, and the server (which refuses a Variant of another type) holds exactly
/// that Variant. A plan whose DataType is no longer the node's is refused and nothing is written.
#[tokio::test]
async fn the_variant_written_is_the_plans_of_the_nodes_data_type() {
    use ttyhmi::driver::UaType;
    use ttyhmi::driver::plan::{self, Wire};
    let dir = TempDir::new("ua-write-plan");
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let ns = sim.opcua_namespace_index().expect("OPC UA runs");
    let cases = [
        ("W_BOOLEAN", node::WRITABLE_BOOLEAN, UaType::Boolean, Value::Bool(true)),
        ("W_INT16", node::WRITABLE_INT16, UaType::Int16, Value::Float(-7.0)),
        ("W_UINT16", node::WRITABLE_UINT16, UaType::UInt16, Value::Float(65535.0)),
        ("W_INT32", node::WRITABLE_INT32, UaType::Int32, Value::Float(-123_456.0)),
        ("W_UINT32", node::WRITABLE_UINT32, UaType::UInt32, Value::Float(4.0e9)),
        ("W_FLOAT", node::WRITABLE_FLOAT, UaType::Float, Value::Float(0.1)),
        ("W_DOUBLE", node::WRITABLE_DOUBLE, UaType::Double, Value::Float(-1.0e300)),
        ("W_STRING", node::WRITABLE_STRING, UaType::String, Value::Float(12.5)),
        ("SP", node::PRESSURE_SP, UaType::Double, Value::Float(9.5)),
    ];
    let mut src = LayoutSrc::default().conn("ua", &url(&sim), &[NONE]);
    for (name, n, _, _) in &cases {
        src = src.tag(name, "ua", &sim_node(n), "");
    }
    let layout = parse(&src.build());
    let j = job(&layout, 0, &dir.client_pki());
    let (session, event_loop) = prepare(&j).await.expect("prepare a session");
    let event_loop = event_loop.spawn();
    assert_eq!(tokio::time::timeout(secs(10), session.wait_for_connection()).await, Ok(true));
    let (tx, rx) = mpsc::channel::<DriverEvent>(4096);
    let (stop, stop_rx) = watch::channel(false);
    let (wtx, wrx) = mpsc::channel(1);
    let task = tokio::spawn(run(j, tx, stop_rx, Some(std::sync::Arc::new(tokio::sync::Mutex::new(wrx)))));
    let mut h = Harness { view: View::new(layout.clone()), rx, stop, tasks: vec![task] };
    h.wait_for(secs(10), "all Good and every DataType", |v| v.all_good() && v.data_types.len() == cases.len()).await;
    for (name, n, ty, value) in &cases {
        let tag = layout.tag_id(name).unwrap();
        assert_eq!(
            h.view.data_types.get(&tag),
            Some(&Ok(ttyhmi::driver::WireType::Ua(*ty))),
            "{name}: the DataType the driver reported"
        );
        let p = plan::plan(&layout, tag, value, h.view.data_types.get(&tag)).unwrap_or_else(|e| panic!("{name}: {e}"));
        let Wire::OpcUa(w) = p.wire() else { panic!("{p:?}") };
        assert_eq!(w.value.data_type(), *ty, "{name}");
        let done = send_plan(&wtx, p.clone()).await.unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(done.confirmed(), "{name}: {done:?}");
        let held = read_variant(&session, &NodeId::new(ns, *n)).await;
        assert_eq!(held, Some(convert::variant(&w.value)), "{name}: the server holds the plan's Variant");
    }
    assert_eq!(sim.with_plant(|p| p.cmd.pressure_sp), 9.5);

    // Planned as an Int32, the Double node refuses the plan at the driver: nothing is written.
    let tag = layout.tag_id("W_DOUBLE").unwrap();
    let stale =
        plan::plan(&layout, tag, &Value::Float(5.0), Some(&Ok(ttyhmi::driver::WireType::Ua(UaType::Int32)))).unwrap();
    match send_plan(&wtx, stale).await {
        Err(WriteError::NotSent(ttyhmi::driver::NotSent::PlanMismatch(why))) => {
            assert!(why.contains("Int32") && why.contains("Double"), "{why}")
        }
        other => panic!("{other:?}"),
    }
    let held = read_variant(&session, &NodeId::new(ns, node::WRITABLE_DOUBLE)).await;
    assert_eq!(held, Some(opcua::types::Variant::Double(-1.0e300)), "nothing written");

    let _ = h.stop.send(true);
    for t in h.tasks.drain(..) {
        let _ = tokio::time::timeout(secs(2), t).await;
    }
    let _ = tokio::time::timeout(secs(5), session.disconnect()).await;
    event_loop.abort();
    sim.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 12. Values the client cannot decode (issue 12, item 13)

/// The string limit of the driver's decoding options (4 MiB).
const STRING_LIMIT: usize = 4 << 20;

/// Bad, with a reason holding every one of `words`.
fn bad_with(v: &View, name: &str, words: &[&str]) -> bool {
    matches!(v.quality(name), Quality::Bad(_)) && words.iter().all(|w| v.reason(name).contains(w))
}

/// A String of 100,000 characters (async-opcua's default limit is 65,535 bytes) decodes and
/// shows; before, the whole connection broke on it.
#[tokio::test]
async fn a_string_of_100000_characters_decodes() {
    let dir = TempDir::new("long-string");
    let long = "é".repeat(50_000) + &"x".repeat(50_000);
    let server = ValueServer::start(&dir.join("server-pki"), &[("Long", &long)]).await;
    let src = LayoutSrc::default()
        .conn("ua", &server.url, &[NONE])
        .tag("COUNTER", "ua", &ValueServer::node("Counter"), "")
        .tag("LONG", "ua", &ValueServer::node("Long"), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "both tags Good, the counter moving", |v| v.all_good() && v.good_values("COUNTER").len() >= 3)
        .await;
    assert_eq!(h.view.value("LONG"), Some(&Value::Text(long.clone())), "150,000 bytes, 100,000 characters");
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected));
    h.shutdown().await;
    server.stop().await;
}

/// A String over the limit: that tag Bad with a reason naming the limit, the others keep
/// updating with the connection up, and once the server's value is decodable again the tag
/// recovers without a restart (and is watched by the subscription again).
#[tokio::test]
async fn a_string_over_the_limit_makes_only_its_tag_bad_and_recovers_when_fixed() {
    let dir = TempDir::new("huge-string");
    let server = ValueServer::start(&dir.join("server-pki"), &[("Huge", "small at first"), ("Other", "fine")]).await;
    let src = LayoutSrc::default()
        .conn("ua", &server.url, &[NONE])
        .tag("COUNTER", "ua", &ValueServer::node("Counter"), "")
        .tag("HUGE", "ua", &ValueServer::node("Huge"), "")
        .tag("OTHER", "ua", &ValueServer::node("Other"), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(10), "every tag Good", |v| v.all_good() && v.good_values("COUNTER").len() >= 2).await;

    server.set_text("Huge", &"y".repeat(STRING_LIMIT + 1));
    let took = h.wait_for(secs(30), "HUGE Bad, naming the limit", |v| bad_with(v, "HUGE", &["4 MiB"])).await;
    eprintln!("HUGE Bad with its reason {took:?} after the server set it");
    let reason = h.view.reason("HUGE");
    eprintln!("HUGE: {}", h.view.quality("HUGE"));
    assert!(reason.contains("4194305 bytes"), "the size: {reason}");
    let from = h.view.good_values("COUNTER").len();
    h.wait_for(secs(5), "the counter moving on", |v| v.good_values("COUNTER").len() >= from + 5).await;
    assert!(h.view.is_good("OTHER"), "{}", h.view.summary());
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected));
    assert!(bad_with(&h.view, "HUGE", &["4 MiB"]), "still Bad: {}", h.view.quality("HUGE"));
    // An untouched tag on the same connection changes while HUGE is out: still delivered.
    server.set_text("Other", "changed");
    h.wait_for(secs(5), "OTHER changed", |v| v.value("OTHER") == Some(&Value::Text("changed".into()))).await;

    server.set_text("Huge", "fixed");
    let took = h
        .wait_for(secs(30), "HUGE Good again", |v| {
            v.is_good("HUGE") && v.value("HUGE") == Some(&Value::Text("fixed".into()))
        })
        .await;
    eprintln!("HUGE Good again {took:?} after the server fixed its value");
    // Watched by the subscription again: a change arrives within a publishing interval or two.
    server.set_text("Huge", "changed again");
    h.wait_for(secs(2), "HUGE's next change", |v| v.value("HUGE") == Some(&Value::Text("changed again".into()))).await;
    assert_eq!(h.view.silent_up_periods(0), 0, "never up while nothing arrived\n{}", h.view.summary());
    h.assert_running();
    h.shutdown().await;
    server.stop().await;
}

/// A String that is not UTF-8 (made so on the wire by a proxy), from the very first publish:
/// that tag Bad naming the encoding problem, the counter Good and moving, the connection up;
/// recovered once the server sends UTF-8 again.
#[tokio::test]
async fn a_string_that_is_not_utf8_makes_only_its_tag_bad_and_recovers_when_fixed() {
    let dir = TempDir::new("not-utf8");
    let marker = std::str::from_utf8(NOT_UTF8_MARKER).expect("ASCII");
    let server = ValueServer::start(&dir.join("server-pki"), &[("Text", &format!("bad {marker} text"))]).await;
    let target = server.url.trim_start_matches("opc.tcp://").parse().expect("an address");
    let (proxy, proxy_task) = mangling_proxy(target).await;
    let src = LayoutSrc::default()
        .conn("ua", &proxy, &[NONE])
        .tag("COUNTER", "ua", &ValueServer::node("Counter"), "")
        .tag("TEXT", "ua", &ValueServer::node("Text"), "")
        .build();
    let mut h = Harness::start(&src, &dir.client_pki()).await;
    h.wait_for(secs(30), "TEXT Bad naming UTF-8, the counter moving", |v| {
        bad_with(v, "TEXT", &["UTF-8"]) && v.good_values("COUNTER").len() >= 3
    })
    .await;
    assert_eq!(h.view.state(0), Some(&ConnectionState::Connected));
    eprintln!("TEXT: {}", h.view.quality("TEXT"));
    let from = h.view.good_values("COUNTER").len();
    h.wait_for(secs(5), "the counter moving on", |v| v.good_values("COUNTER").len() >= from + 5).await;
    assert!(bad_with(&h.view, "TEXT", &["UTF-8"]), "{}", h.view.quality("TEXT"));

    server.set_text("Text", "plain text");
    let took = h
        .wait_for(secs(30), "TEXT Good again", |v| {
            v.is_good("TEXT") && v.value("TEXT") == Some(&Value::Text("plain text".into()))
        })
        .await;
    eprintln!("TEXT Good again {took:?} after the server fixed its value");
    assert_eq!(h.view.silent_up_periods(0), 0, "never up while nothing arrived\n{}", h.view.summary());
    h.shutdown().await;
    proxy_task.abort();
    server.stop().await;
}

// ---------------------------------------------------------------------------------------------
// 13. Certificate messages (issue 12, item 14)

/// Two servers with different certificates, both rejected: each connection's reason names the
/// file of its own server's certificate (it used to name the newest file in `rejected/`, the
/// same for both, so following it trusted the wrong server).
#[tokio::test]
async fn with_two_rejected_certificates_each_connection_names_its_own() {
    let dir = TempDir::new("two-rejected");
    let (a, b) = (TempDir::new("two-rejected-a"), TempDir::new("two-rejected-b"));
    let sim_a = start_sim(&a, 0, None).await;
    let sim_b = start_sim(&b, 0, None).await;
    let pass = dir.password_file(DEFAULT_PASSWORD);
    let sec = secure("Basic256Sha256", "SignAndEncrypt");
    let src = LayoutSrc::default()
        .conn("a", &url(&sim_a), &[&sec, &user(&pass)])
        .conn("b", &url(&sim_b), &[&sec, &user(&pass)])
        .tag("A", "a", &sim_node(node::TEST_INT32), "")
        .tag("B", "b", &sim_node(node::TEST_INT32), "")
        .build();
    let pki_dir = dir.client_pki();
    let mut h = Harness::start(&src, &pki_dir).await;
    // Both rejected, and each connection reports again after the second rejection, when both
    // files are there.
    h.wait_for(secs(20), "two rejections of each connection", |v| {
        (0..2).all(|c| v.disconnects_since(c, 0).iter().filter(|r| r.contains("ttyhmi trust")).count() >= 2)
    })
    .await;
    assert_eq!(pki::rejected(&pki_dir).len(), 2, "both certificates are in rejected/");
    let file_of = |sim: &SimHandle| {
        let cert = std::fs::read(sim.opcua_certificate_path().expect("OPC UA")).expect("the server's certificate");
        let s = pki::summary(&cert).expect("a certificate");
        (pki_dir.join("rejected").join(&s.file_name), s.sha1)
    };
    let (file_a, sha_a) = file_of(&sim_a);
    let (file_b, sha_b) = file_of(&sim_b);
    assert_ne!(file_a, file_b);
    let last = |c: u16| h.view.disconnects_since(c, 0).last().map(|r| r.to_string()).unwrap_or_default();
    let (reason_a, reason_b) = (last(0), last(1));
    h.shutdown().await;
    sim_a.stop().await;
    sim_b.stop().await;
    for (reason, own, own_sha, other) in [(&reason_a, &file_a, &sha_a, &file_b), (&reason_b, &file_b, &sha_b, &file_a)]
    {
        assert!(reason.contains(&own.display().to_string()), "names its own file {}: {reason}", own.display());
        assert!(reason.contains(&format!("ttyhmi trust {own_sha}")), "trusts its own certificate: {reason}");
        assert!(!reason.contains(&other.display().to_string()), "never the other server's file: {reason}");
    }
}

/// Creates a server certificate for the simulator in `dir` before it starts, naming `hosts`.
fn sim_certificate(dir: &TempDir, hosts: &[&str]) {
    let pki = dir.sim_pki();
    let hosts = hosts.iter().map(|h| h.to_string()).collect();
    let data = opcua::crypto::X509Data {
        key_size: 2048,
        common_name: "ttyhmi simulated plant on vm".into(),
        organization: "ttyhmi tests".into(),
        organizational_unit: "opcua driver".into(),
        country: "IE".into(),
        state: "Dublin".into(),
        alt_host_names: opcua::crypto::X509Data::alt_host_names(
            ttyhmi::sim::opcua_server::APPLICATION_URI,
            Some(hosts),
            false,
            false,
            false,
        ),
        certificate_duration_days: 30,
    };
    let (own, private) = (pki.join("own"), pki.join("private"));
    std::fs::create_dir_all(&own).expect("own/");
    std::fs::create_dir_all(&private).expect("private/");
    opcua::crypto::CertificateStore::create_certificate_and_key(
        &data,
        true,
        &own.join("cert.der"),
        &private.join("private.pem"),
    )
    .expect("the simulator's certificate");
}

/// A trusted certificate that names other hosts than the endpoint's is not "not trusted": the
/// reason lists the hosts in the certificate and the endpoint's host, and both ways on. With
/// `accept_host_name_mismatch: true` that connection accepts this mismatch, and only it: the
/// certificate must still be trusted.
#[tokio::test]
async fn a_host_name_mismatch_says_which_hosts_and_can_be_accepted_per_connection() {
    let dir = TempDir::new("host-name");
    sim_certificate(&dir, &["vm", "192.0.2.2"]);
    let sim = start_sim(&dir, 0, None).await;
    trust_sim(&dir, &sim);
    let pass = dir.password_file(DEFAULT_PASSWORD);
    let sec = secure("Basic256Sha256", "SignAndEncrypt");
    let conn = |accept: bool| {
        let mut keys = vec![sec.clone(), user(&pass)];
        if accept {
            keys.push("accept_host_name_mismatch: true".into());
        }
        let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
        LayoutSrc::default().conn("ua", &url(&sim), &keys).tag("INT32", "ua", &sim_node(node::TEST_INT32), "").build()
    };

    let mut h = Harness::start(&conn(false), &dir.client_pki()).await;
    h.wait_for(secs(10), "a Disconnected naming the host name", |v| v.disconnect_with(0, &["HostName"]).is_some())
        .await;
    let reason = h.view.disconnect_with(0, &["HostName"]).expect("just seen").to_string();
    h.wait_for(secs(2), "the tag Bad with that reason", |v| v.is_down("INT32", &["vm, 192.0.2.2"])).await;
    h.shutdown().await;
    assert!(reason.contains("names the hosts `vm, 192.0.2.2`"), "{reason}");
    assert!(reason.contains("the endpoint is `127.0.0.1`"), "{reason}");
    let port = sim.opcua_addr.expect("OPC UA").port();
    assert!(reason.contains(&format!("`opc.tcp://vm:{port}")), "connect by a name in the certificate: {reason}");
    assert!(reason.contains("accept_host_name_mismatch: true"), "{reason}");
    assert!(!reason.contains("not trusted"), "{reason}");

    // Accepted for this connection: connects and reads.
    let layout = parse(&conn(true));
    let layout::ConnectionKind::OpcUa(ua) = &layout.connections[0].kind else { panic!("an OPC UA connection") };
    assert!(ua.accept_host_name_mismatch, "the layout model says so (for the audit record and diagnostics)");
    let mut h = Harness::start(&conn(true), &dir.client_pki()).await;
    h.wait_for(secs(10), "INT32 Good", |v| v.is_good("INT32")).await;
    assert_eq!(h.view.value("INT32"), Some(&Value::Int(test_values::INT32.into())));
    h.shutdown().await;

    // Only the host name: an untrusted certificate stays refused.
    let fresh = dir.join("fresh-client-pki");
    let mut h = Harness::start(&conn(true), &fresh).await;
    h.wait_for(secs(10), "not trusted", |v| v.disconnect_with(0, &["not trusted"]).is_some()).await;
    assert!(!h.view.states.iter().any(|(_, s)| s.is_connected()), "never connected: {}", h.view.summary());
    h.shutdown().await;
    sim.stop().await;
}

/// CreateMonitoredItems has a per-call limit (async-opcua's default MaxMonitoredItemsPerCall,
/// and so the simulator's, is 1000): a connection with more tags asked for all of them in one
/// call, the server refused it whole (Bad_TooManyOperations) and no tag ever got a value (found
/// by the Sparkplug load bench with 10,000 tags). The items go in calls the server takes.
#[tokio::test]
async fn more_tags_than_one_call_may_subscribe_all_get_values() {
    const N: usize = 2_500;
    let dir = TempDir::new("many-items");
    let options = SimOptions {
        step: None,
        opcua_port: Some(0),
        opcua_load_items: N,
        opcua_pki: dir.sim_pki(),
        ..SimOptions::default()
    };
    let sim = sim::start_with(loopback(), options).await.expect("start the simulator");
    trust_sim(&dir, &sim);
    let mut src = LayoutSrc::default().conn("ua", &url(&sim), &[NONE]);
    for i in 0..N {
        src = src.tag(&format!("V{i:04}"), "ua", &sim_node(&load_node_id(i)), ", sampling: 1s, queue_size: 1");
    }
    let mut h = Harness::start(&src.build(), &dir.client_pki()).await;
    h.wait_for(secs(60), "every load tag Good", |v| (0..N).all(|i| v.is_good(&format!("V{i:04}")))).await;
    h.shutdown().await;
    sim.stop().await;
}

/// One publish response's data changes arrive as one Samples event (one batch for the plant,
/// one DDATA from a gateway). They came one sample per event: a gateway on 10,000 OPC UA tags
/// sent 10,000 DDATA messages a second, one metric each (found by the Sparkplug load bench).
#[tokio::test]
async fn the_changes_of_one_publish_response_arrive_as_one_batch() {
    const N: usize = 50;
    let dir = TempDir::new("one-batch");
    let options = SimOptions {
        step: None,
        opcua_port: Some(0),
        opcua_load_items: N,
        opcua_pki: dir.sim_pki(),
        ..SimOptions::default()
    };
    let sim = sim::start_with(loopback(), options).await.expect("start the simulator");
    trust_sim(&dir, &sim);
    let mut src = LayoutSrc::default().conn("ua", &url(&sim), &[NONE]);
    for i in 0..N {
        src = src.tag(&format!("V{i:04}"), "ua", &sim_node(&load_node_id(i)), "");
    }
    let mut h = Harness::start(&src.build(), &dir.client_pki()).await;
    // Every load variable changes at every tick of the simulator: a publish response carries
    // all of them (or most, when a tick falls between two of them).
    h.wait_for(secs(10), "a Samples event with more than half of the load tags", |v| v.largest_batch > N / 2).await;
    h.shutdown().await;
    sim.stop().await;
}
