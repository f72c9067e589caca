//! `ttyhmi browse`: walks an OPC UA server's address space and writes a layout fragment — a
//! `connections:` entry and one tag per variable — ready to paste into a layout.
//!
//! Forward hierarchical references are followed from the root (the Objects folder unless told)
//! for `depth` levels, never visiting a node twice. Every Variable becomes a tag except
//! properties (HasProperty targets such as EngineeringUnits and EURange), whose values are read
//! instead: the units go into `units:`, the DataType and EURange into a trailing comment. Tag
//! names come from the browse path (`Plant/Tank1/Level` → `PLANT_TANK1_LEVEL`), NodeIds are
//! written with their namespace URI (`nsu=…`) so the layout survives namespace index changes.

use std::collections::{HashMap, HashSet};
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use opcua::client::{Session, SessionPollResult};
use opcua::types::{
    AttributeId, BrowseDescription, BrowseDirection, BrowseResult, BrowseResultMask, ByteString, DataValue,
    EUInformation, ExpandedNodeId, Identifier as UaIdentifier, NamespaceMap, NodeClass, NodeClassMask, NodeId, Range,
    ReadValueId, ReferenceTypeId, StatusCode, TimestampsToReturn, Variant,
};
use tokio::sync::oneshot;

use super::{Limits, UaJob, convert, explain, prepare_with};
use crate::layout::duration::format_duration;
use crate::layout::nodeid::{Identifier, Namespace, NodeRef};
use crate::layout::{SecretSource, UaSecurity, UaUser};
use crate::sanitize::yaml_str as quoted;

/// What to browse and how to name the connection in the output.
#[derive(Clone, Debug)]
pub struct BrowseOptions {
    /// Connection settings (endpoint, security, user, timeout, PKI folder); `points` is unused.
    pub job: UaJob,
    /// Where to start; default the Objects folder (`i=85`).
    pub root: Option<NodeRef>,
    /// Levels of references followed below the root (0: the root only).
    pub depth: usize,
    /// Name of the connection in the output (and `source:` of every tag).
    pub connection_name: String,
}

/// Longest tag name a layout accepts.
pub const NAME_MAX: usize = 64;
/// References asked for per node and browse request; more come through continuation points.
const REFS_PER_NODE: u32 = 1000;
/// Nodes per Browse request (async-opcua servers accept 1000 by default).
const NODES_PER_BROWSE: usize = 100;
/// Attributes per Read request.
const VALUES_PER_READ: usize = 1000;
/// Nodes visited at most, so a huge server does not run the walk for hours.
const MAX_NODES: usize = 100_000;

/// Walks the address space and returns a YAML `connections:` + `tags:` block ready to paste into
/// a layout.
pub async fn browse(opts: &BrowseOptions) -> Result<String, String> {
    browse_with(opts, REFS_PER_NODE).await
}

async fn browse_with(opts: &BrowseOptions, refs_per_node: u32) -> Result<String, String> {
    if !valid_name(&opts.connection_name) {
        return Err(format!(
            "connection name `{}` is not valid: use letters, digits and `_`, starting with a letter",
            opts.connection_name
        ));
    }
    let conn = Connected::open(&opts.job).await?;
    let found = scan(&conn.session, opts, refs_per_node).await;
    conn.close().await;
    Ok(render(opts, &found?))
}

// ---------------------------------------------------------------------------------------------
// Connecting

/// A connected session whose event loop runs on a task (aborted on drop).
struct Connected {
    session: Arc<Session>,
    event_loop: tokio::task::JoinHandle<()>,
}

impl Drop for Connected {
    fn drop(&mut self) {
        self.event_loop.abort();
    }
}

impl Connected {
    /// Discovery, session, and the first connect — failing fast (no retries) with a message
    /// naming the cause.
    async fn open(job: &UaJob) -> Result<Connected, String> {
        let limit = job.timeout.max(Duration::from_secs(5));
        probe(&job.ua.endpoint, limit).await?;
        let prepared = prepare_with(job, &Limits::CONNECTION, -1).await?;
        let (session, event_loop, server_cert) = (prepared.session, prepared.event_loop, prepared.server_certificate);
        let (tx, rx) = oneshot::channel::<Result<(), StatusCode>>();
        let event_loop = tokio::spawn(async move {
            let mut first = Some(tx);
            let mut stream = std::pin::pin!(event_loop.enter());
            while let Some(r) = stream.next().await {
                let outcome = match r {
                    Ok(SessionPollResult::Reconnected(_)) => Ok(()),
                    Ok(SessionPollResult::ReconnectFailed(s)) | Err(s) => Err(s),
                    Ok(_) => continue,
                };
                if let Some(tx) = first.take() {
                    let _ = tx.send(outcome);
                }
            }
        });
        let conn = Connected { session, event_loop };
        let url = &job.ua.endpoint;
        match tokio::time::timeout(limit, rx).await {
            Err(_) => Err(format!("no session with {url} within {limit:?}")),
            Ok(Err(_)) => Err(format!("the session with {url} ended before it was established")),
            Ok(Ok(Err(status))) => Err(format!("cannot connect to {url}: {}", explain(status, job, &server_cert))),
            Ok(Ok(Ok(()))) => {
                // The event loop reports Reconnected as soon as the session is activated.
                let _ = tokio::time::timeout(limit, conn.session.wait_for_connection()).await;
                Ok(conn)
            }
        }
    }

    async fn close(self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), self.session.disconnect()).await;
    }
}

/// Fails at once when nothing listens at the endpoint (the client's discovery would retry a
/// refused connection until its timeout).
async fn probe(url: &str, limit: Duration) -> Result<(), String> {
    let Some(addr) = socket_addr(url) else { return Ok(()) };
    match tokio::time::timeout(limit, tokio::net::TcpStream::connect(&addr)).await {
        Ok(Err(e)) => Err(format!("cannot reach {url}: {e}")),
        _ => Ok(()),
    }
}

/// `host:port` of an `opc.tcp://` URL (port 4840 when it names none).
fn socket_addr(url: &str) -> Option<String> {
    let rest = url.strip_prefix("opc.tcp://")?;
    let host_port = rest.split('/').next()?;
    let has_port = if host_port.starts_with('[') {
        host_port.contains("]:")
    } else {
        match host_port.matches(':').count() {
            0 => false,
            1 => true,
            _ => return None, // an IPv6 address without brackets
        }
    };
    if host_port.is_empty() || host_port.starts_with(':') {
        return None;
    }
    Some(if has_port { host_port.to_string() } else { format!("{host_port}:4840") })
}

// ---------------------------------------------------------------------------------------------
// Walking the address space

/// A variable found by the walk, with what the layout needs of it.
#[derive(Clone, Debug, Default, PartialEq)]
struct Var {
    /// Browse names from the root (the root itself left out when it is the Objects or Root folder).
    path: Vec<String>,
    /// The NodeId as a layout writes it.
    node: String,
    description: Option<String>,
    units: Option<String>,
    /// DataType name, with `[]` for arrays.
    data_type: Option<String>,
    range: Option<(f64, f64)>,
}

/// What the walk found.
#[derive(Debug, Default)]
struct Found {
    root: String,
    vars: Vec<Var>,
    /// Variables whose NodeId has no layout text form (an empty string identifier, …).
    skipped: Vec<String>,
    /// The walk stopped at [`MAX_NODES`].
    truncated: bool,
}

/// A node reached by the walk.
struct Visit {
    id: NodeId,
    class: NodeClass,
    path: Vec<String>,
    /// Sibling indices from the root: which of two equal paths came first.
    order: Vec<u32>,
}

/// The EngineeringUnits and EURange properties of a variable.
#[derive(Default)]
struct Props {
    units: Option<NodeId>,
    range: Option<NodeId>,
}

async fn scan(session: &Session, opts: &BrowseOptions, refs_per_node: u32) -> Result<Found, String> {
    let namespaces = session
        .read_namespace_array()
        .await
        .map_err(|e| format!("cannot read the server's NamespaceArray: {}", convert::status_name(e.status())))?;
    let uris = namespace_uris(&namespaces);
    let root_ref =
        opts.root.clone().unwrap_or(NodeRef { namespace: Namespace::Index(0), identifier: Identifier::Numeric(85) });
    let root = convert::node_id(&root_ref, &namespaces)?;
    let root = visit_root(session, root, &root_ref).await?;

    let walked = Walk::new(session, &namespaces, refs_per_node, &root.id).run(root, opts.depth).await?;
    let values = read_attributes(session, &walked.variables, walked.props).await?;
    let type_names = read_type_names(session, &values).await?;

    let mut found = Found { root: root_ref.to_string(), truncated: walked.truncated, ..Found::default() };
    for (v, chunk) in walked.variables.into_iter().zip(values.chunks(PER_VAR)) {
        let Some(node) = node_text(&v.id, &uris) else {
            found.skipped.push(format!("{} ({})", v.path.join("/"), v.id));
            continue;
        };
        found.vars.push(var_from(v.path, node, chunk, &type_names));
    }
    Ok(found)
}

/// The namespace URIs by index (`None` for an index the NamespaceArray leaves out).
fn namespace_uris(namespaces: &NamespaceMap) -> Vec<Option<String>> {
    let mut uris: Vec<Option<String>> = Vec::new();
    for (uri, &i) in namespaces.known_namespaces() {
        if uris.len() <= i as usize {
            uris.resize(i as usize + 1, None);
        }
        uris[i as usize] = Some(uri.clone());
    }
    uris
}

/// The root node with its class and path: its browse name, or none when it is the Objects or
/// Root folder (or has no name). An error when the server does not know it.
async fn visit_root(session: &Session, root: NodeId, root_ref: &NodeRef) -> Result<Visit, String> {
    let attrs = read(session, vec![rv(&root, AttributeId::NodeClass), rv(&root, AttributeId::BrowseName)]).await?;
    let status = attrs[1].status.unwrap_or(StatusCode::Good);
    if !status.is_good() {
        return Err(format!("the root node {root_ref}: {}", convert::status_name(status)));
    }
    let class = match &attrs[0].value {
        Some(Variant::Int32(c)) => NodeClass::try_from(*c).unwrap_or(NodeClass::Object),
        _ => NodeClass::Object,
    };
    let name = match &attrs[1].value {
        Some(Variant::QualifiedName(q)) => q.name.value().clone().unwrap_or_default(),
        _ => String::new(),
    };
    let standard_folder = root.namespace == 0 && matches!(root.identifier, UaIdentifier::Numeric(84 | 85));
    let path = if standard_folder || name.is_empty() { vec![] } else { vec![name] };
    Ok(Visit { id: root, class, path, order: vec![] })
}

/// The walk through the address space, level by level.
struct Walk<'a> {
    session: &'a Session,
    namespaces: &'a NamespaceMap,
    refs_per_node: u32,
    /// Nodes reached so far (the root included): none is visited twice.
    visited: HashSet<NodeId>,
    /// Targets of HasProperty references: never tags.
    properties: HashSet<NodeId>,
    /// The EngineeringUnits and EURange properties of each variable browsed.
    props: HashMap<NodeId, Props>,
    /// The walk stopped at [`MAX_NODES`].
    truncated: bool,
}

/// What the walk found: the variables in tree order, their properties, and whether it stopped
/// at [`MAX_NODES`].
struct Walked {
    variables: Vec<Visit>,
    props: HashMap<NodeId, Props>,
    truncated: bool,
}

impl<'a> Walk<'a> {
    fn new(session: &'a Session, namespaces: &'a NamespaceMap, refs_per_node: u32, root: &NodeId) -> Walk<'a> {
        Walk {
            session,
            namespaces,
            refs_per_node,
            visited: HashSet::from([root.clone()]),
            properties: HashSet::new(),
            props: HashMap::new(),
            truncated: false,
        }
    }

    /// Follows references from `root` for `max_depth` levels; the variables reached (properties
    /// left out), sorted by path.
    async fn run(mut self, root: Visit, max_depth: usize) -> Result<Walked, String> {
        let mut variables: Vec<Visit> = Vec::new();
        let mut level = vec![root];
        for depth in 0.. {
            let next = self.level(&level, depth < max_depth).await?;
            let done = std::mem::replace(&mut level, next);
            variables.extend(done.into_iter().filter(|v| v.class == NodeClass::Variable));
            if level.is_empty() || self.truncated {
                variables.extend(level.drain(..).filter(|v| v.class == NodeClass::Variable));
                break;
            }
        }
        variables.retain(|v| !self.properties.contains(&v.id));
        // Tree order by name, the same on every run (servers may list references in any order).
        variables.sort_by(|a, b| a.path.cmp(&b.path).then_with(|| a.order.cmp(&b.order)));
        Ok(Walked { variables, props: self.props, truncated: self.truncated })
    }

    /// Browses one level; the nodes of the next one (none unless `descend`).
    async fn level(&mut self, level: &[Visit], descend: bool) -> Result<Vec<Visit>, String> {
        // Objects and views are browsed for children; variables also for their properties.
        let to_browse: Vec<&Visit> = level
            .iter()
            .filter(|v| {
                matches!(v.class, NodeClass::Variable)
                    || (descend && matches!(v.class, NodeClass::Object | NodeClass::View))
            })
            .collect();
        let results = browse_all(self.session, &to_browse, self.refs_per_node).await?;
        let mut next = Vec::new();
        for (parent, refs) in to_browse.iter().zip(results) {
            self.follow(parent, refs, descend, &mut next);
        }
        Ok(next)
    }

    /// Takes the references of `parent`: properties are noted, children not yet visited are
    /// added to `next` (when descending) until [`MAX_NODES`].
    fn follow(
        &mut self,
        parent: &Visit,
        refs: Vec<opcua::types::ReferenceDescription>,
        descend: bool,
        next: &mut Vec<Visit>,
    ) {
        let mut sibling = 0u32;
        for r in refs {
            let Some(id) = local_id(&r.node_id, self.namespaces) else { continue };
            let name = r.browse_name.name.value().clone().unwrap_or_default();
            if r.reference_type_id == ReferenceTypeId::HasProperty {
                self.property(parent, &name, id);
                continue;
            }
            if !descend || !self.visited.insert(id.clone()) {
                continue;
            }
            if self.visited.len() > MAX_NODES {
                self.truncated = true;
                return;
            }
            let mut path = parent.path.clone();
            path.push(name);
            let mut order = parent.order.clone();
            order.push(sibling);
            sibling += 1;
            next.push(Visit { id, class: r.node_class, path, order });
        }
    }

    /// Notes a HasProperty target `id` named `name` of `parent` (its units or range when
    /// `parent` is a variable).
    fn property(&mut self, parent: &Visit, name: &str, id: NodeId) {
        if parent.class == NodeClass::Variable {
            let p = self.props.entry(parent.id.clone()).or_default();
            match name {
                "EngineeringUnits" => p.units = Some(id.clone()),
                "EURange" => p.range = Some(id.clone()),
                _ => {}
            }
        }
        self.properties.insert(id);
    }
}

/// Values read per variable by [`read_attributes`]: Description, DisplayName, DataType,
/// ValueRank, and the values of its EngineeringUnits and EURange properties.
const PER_VAR: usize = 6;

/// The attributes of every variable and the values of its properties, [`PER_VAR`] a variable.
async fn read_attributes(
    session: &Session,
    variables: &[Visit],
    mut props: HashMap<NodeId, Props>,
) -> Result<Vec<DataValue>, String> {
    let mut ids = Vec::with_capacity(variables.len() * PER_VAR);
    for v in variables {
        let p = props.remove(&v.id).unwrap_or_default();
        ids.push(rv(&v.id, AttributeId::Description));
        ids.push(rv(&v.id, AttributeId::DisplayName));
        ids.push(rv(&v.id, AttributeId::DataType));
        ids.push(rv(&v.id, AttributeId::ValueRank));
        ids.push(p.units.map_or_else(ReadValueId::default, |n| rv(&n, AttributeId::Value)));
        ids.push(p.range.map_or_else(ReadValueId::default, |n| rv(&n, AttributeId::Value)));
    }
    read_many(session, ids).await
}

/// The names of the DataTypes that [`read_attributes`] found.
async fn read_type_names(session: &Session, values: &[DataValue]) -> Result<HashMap<NodeId, String>, String> {
    let mut type_ids: Vec<NodeId> = Vec::new();
    for chunk in values.chunks(PER_VAR) {
        if let Some(Variant::NodeId(t)) = &chunk[2].value
            && !type_ids.contains(t)
        {
            type_ids.push((**t).clone());
        }
    }
    let type_names = read_many(session, type_ids.iter().map(|t| rv(t, AttributeId::BrowseName)).collect()).await?;
    Ok(type_ids
        .into_iter()
        .zip(type_names)
        .filter_map(|(id, dv)| match dv.value {
            Some(Variant::QualifiedName(q)) => Some((id, q.name.value().clone()?)),
            _ => None,
        })
        .collect())
}

/// The variable at `path` with NodeId text `node`, from its [`PER_VAR`] values read.
fn var_from(path: Vec<String>, node: String, chunk: &[DataValue], type_names: &HashMap<NodeId, String>) -> Var {
    let data_type = match &chunk[2].value {
        Some(Variant::NodeId(t)) => type_names.get(&**t).map(|n| {
            let array = matches!(chunk[3].value, Some(Variant::Int32(r)) if r >= 0);
            if array { format!("{n}[]") } else { n.clone() }
        }),
        _ => None,
    };
    let units = match &chunk[4].value {
        Some(Variant::ExtensionObject(e)) => e.inner_as::<EUInformation>().and_then(|u| text(&u.display_name.text)),
        _ => None,
    };
    let range = match &chunk[5].value {
        Some(Variant::ExtensionObject(e)) => e.inner_as::<Range>().map(|r| (r.low, r.high)),
        _ => None,
    };
    let description = localized(&chunk[0]).or_else(|| localized(&chunk[1]));
    Var { path, node, description, units, data_type, range }
}

fn rv(id: &NodeId, attribute: AttributeId) -> ReadValueId {
    ReadValueId { node_id: id.clone(), attribute_id: attribute as u32, ..ReadValueId::default() }
}

fn text(s: &opcua::types::UAString) -> Option<String> {
    s.value().clone().filter(|t| !t.trim().is_empty())
}

fn localized(dv: &DataValue) -> Option<String> {
    match &dv.value {
        Some(Variant::LocalizedText(t)) => text(&t.text),
        Some(Variant::String(s)) => text(s),
        _ => None,
    }
}

async fn read(session: &Session, ids: Vec<ReadValueId>) -> Result<Vec<DataValue>, String> {
    let n = ids.len();
    let values = session
        .read(&ids, TimestampsToReturn::Neither, 0.0)
        .await
        .map_err(|e| format!("Read failed: {}", convert::status_name(e.status())))?;
    if values.len() != n {
        return Err(format!("the server answered {} of {n} reads", values.len()));
    }
    Ok(values)
}

/// Reads in chunks the server accepts; null NodeIds (a missing property) are not sent.
async fn read_many(session: &Session, ids: Vec<ReadValueId>) -> Result<Vec<DataValue>, String> {
    let wanted: Vec<usize> = (0..ids.len()).filter(|&i| !ids[i].node_id.is_null()).collect();
    let mut out = vec![DataValue::default(); ids.len()];
    for chunk in wanted.chunks(VALUES_PER_READ) {
        let values = read(session, chunk.iter().map(|&i| ids[i].clone()).collect()).await?;
        for (&i, v) in chunk.iter().zip(values) {
            out[i] = v;
        }
    }
    Ok(out)
}

/// Browses `nodes` along forward hierarchical references; one list of references per node,
/// continuation points followed to the end. A node the server refuses to browse has none.
async fn browse_all(
    session: &Session,
    nodes: &[&Visit],
    refs_per_node: u32,
) -> Result<Vec<Vec<opcua::types::ReferenceDescription>>, String> {
    let mut out: Vec<Vec<_>> = Vec::with_capacity(nodes.len());
    let fail = |e: opcua::types::Error| format!("Browse failed: {}", convert::status_name(e.status()));
    for chunk in nodes.chunks(NODES_PER_BROWSE) {
        let descs: Vec<BrowseDescription> = chunk
            .iter()
            .map(|v| BrowseDescription {
                node_id: v.id.clone(),
                browse_direction: BrowseDirection::Forward,
                reference_type_id: ReferenceTypeId::HierarchicalReferences.into(),
                include_subtypes: true,
                node_class_mask: (NodeClassMask::OBJECT | NodeClassMask::VARIABLE | NodeClassMask::VIEW).bits(),
                result_mask: BrowseResultMask::All as u32,
            })
            .collect();
        let results = session.browse(&descs, refs_per_node, None).await.map_err(fail)?;
        let base = out.len();
        let mut pending: Vec<(usize, ByteString)> = Vec::new();
        for (i, r) in results.into_iter().enumerate() {
            out.push(Vec::new());
            take(&mut out[base + i], &mut pending, base + i, r);
        }
        out.resize_with(base + chunk.len(), Vec::new);
        while !pending.is_empty() {
            let (slots, points): (Vec<usize>, Vec<ByteString>) = std::mem::take(&mut pending).into_iter().unzip();
            let results = session.browse_next(false, &points).await.map_err(fail)?;
            for (slot, r) in slots.into_iter().zip(results) {
                take(&mut out[slot], &mut pending, slot, r);
            }
        }
    }
    Ok(out)
}

fn take(
    into: &mut Vec<opcua::types::ReferenceDescription>,
    pending: &mut Vec<(usize, ByteString)>,
    slot: usize,
    r: BrowseResult,
) {
    if !r.status_code.is_good() {
        return;
    }
    into.extend(r.references.unwrap_or_default());
    if !r.continuation_point.is_null_or_empty() {
        pending.push((slot, r.continuation_point));
    }
}

/// The node a reference points to, on this server (an index-free namespace URI resolved).
fn local_id(e: &ExpandedNodeId, namespaces: &opcua::types::NamespaceMap) -> Option<NodeId> {
    if e.server_index != 0 {
        return None;
    }
    let mut id = e.node_id.clone();
    if let Some(uri) = e.namespace_uri.value().as_deref().filter(|u| !u.is_empty()) {
        id.namespace = namespaces.get_index(uri)?;
    }
    Some(id)
}

/// A server NodeId as a layout writes it: `nsu=<uri>;…` outside namespace 0 (`ns=<i>;…` when the
/// NamespaceArray has no usable URI for it). `None` when no text form reads back as the same node.
fn node_text(id: &NodeId, uris: &[Option<String>]) -> Option<String> {
    let identifier = match &id.identifier {
        UaIdentifier::Numeric(n) => Identifier::Numeric(*n),
        UaIdentifier::String(s) => Identifier::String(s.value().clone()?),
        UaIdentifier::Guid(g) => Identifier::Guid(g.to_string().to_ascii_lowercase()),
        UaIdentifier::ByteString(b) => Identifier::Opaque(b.value.clone()?),
    };
    let namespace = match uris.get(id.namespace as usize).cloned().flatten() {
        _ if id.namespace == 0 => Namespace::Index(0),
        Some(uri) if !uri.is_empty() && !uri.contains(';') => Namespace::Uri(uri),
        _ => Namespace::Index(id.namespace),
    };
    let r = NodeRef { namespace, identifier };
    let t = r.to_string();
    (NodeRef::parse(&t).as_ref() == Ok(&r)).then_some(t)
}

// ---------------------------------------------------------------------------------------------
// Names

/// Layout names: letters, digits, `_`, `-`, `.`; a letter or `_` first; at most 64 characters.
fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && s.len() <= NAME_MAX
}

/// One browse name as a name part: upper-case ASCII letters and digits, words split at
/// camel-case humps and at anything else (`FeedFlow` → `FEED_FLOW`, `Temp (°C)` → `TEMP_C`).
fn sanitize(segment: &str) -> String {
    let mut out = String::new();
    let mut prev: Option<char> = None;
    for c in segment.chars() {
        if c.is_ascii_alphanumeric() {
            let hump = c.is_ascii_uppercase() && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit());
            if hump && !out.is_empty() && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_uppercase());
        } else if !out.is_empty() && !out.ends_with('_') {
            out.push('_');
        }
        prev = Some(c);
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// A tag name for a browse path: its parts joined by `_`, leading parts dropped (then the rest
/// cut) to fit [`NAME_MAX`], `_` in front of a leading digit, `TAG` for an empty path.
fn base_name(path: &[String]) -> String {
    let mut parts: Vec<String> = path.iter().map(|s| sanitize(s)).filter(|s| !s.is_empty()).collect();
    let len = |p: &[String]| p.iter().map(|s| s.len() + 1).sum::<usize>().saturating_sub(1);
    while parts.len() > 1 && len(&parts) > NAME_MAX {
        parts.remove(0);
    }
    let mut name = parts.join("_");
    if name.is_empty() {
        name = "TAG".into();
    }
    if name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, '_');
    }
    name.truncate(NAME_MAX);
    while name.len() > 1 && name.ends_with('_') {
        name.pop();
    }
    name
}

/// Hands out unique names: the second `X` becomes `X_2`, cut so it stays within [`NAME_MAX`].
#[derive(Default)]
struct Names {
    used: HashSet<String>,
}

impl Names {
    fn unique(&mut self, base: &str) -> String {
        let mut name = base.to_string();
        let mut n = 1;
        while self.used.contains(&name) {
            n += 1;
            let suffix = format!("_{n}");
            let mut stem = base.to_string();
            stem.truncate(NAME_MAX - suffix.len());
            name = format!("{stem}{suffix}");
        }
        self.used.insert(name.clone());
        name
    }
}

// ---------------------------------------------------------------------------------------------
// YAML

/// Text from the server shown to a person (a description, units): made visible
/// ([`crate::sanitize::clean`]: `\x1b[2J`, `\u{202e}`), then quoted.
fn shown(s: &str) -> String {
    quoted(&crate::sanitize::clean(s))
}

/// A mapping key: plain unless YAML would read it as something other than this text.
fn key(name: &str) -> String {
    const SPECIAL: [&str; 11] = ["true", "false", "null", "yes", "no", "on", "off", "y", "n", "~", "<<"];
    if SPECIAL.iter().any(|s| s.eq_ignore_ascii_case(name)) { quoted(name) } else { name.to_string() }
}

/// `0..100`, `-1.5..2.5`.
fn range_text((low, high): (f64, f64)) -> String {
    format!("{low}..{high}")
}

/// One line under `tags:`.
fn tag_line(name: &str, connection: &str, v: &Var) -> String {
    let mut line = format!("  {}: {{ source: {}, node: {}", key(name), quoted(connection), quoted(&v.node));
    if let Some(u) = &v.units {
        let _ = write!(line, ", units: {}", shown(u));
    }
    if let Some(d) = &v.description {
        let _ = write!(line, ", description: {}", shown(d));
    }
    line.push_str(" }");
    let mut comment: Vec<String> = Vec::new();
    if let Some(t) = &v.data_type {
        comment.push(one_line(t));
    }
    if let Some(r) = v.range {
        comment.push(format!("EURange {}", range_text(r)));
    }
    if !comment.is_empty() {
        let _ = write!(line, "  # {}", comment.join(", "));
    }
    line
}

/// Text for a comment: on one line, nothing unsafe for a terminal ([`crate::sanitize::clean`]).
fn one_line(s: &str) -> String {
    crate::sanitize::clean(s).into_owned()
}

fn security_text(s: &UaSecurity) -> String {
    match s {
        UaSecurity::None => "none".into(),
        UaSecurity::Secure { policy, mode } => format!("{{ policy: {}, mode: {mode:?} }}", policy.name()),
    }
}

/// The user, as a comment line (never a password itself).
fn user_comment(u: &UaUser) -> Option<String> {
    let path = |p: &std::path::Path| quoted(&p.display().to_string());
    Some(match u {
        UaUser::Anonymous => return None,
        UaUser::UserName { username, password: SecretSource::File(f) } => {
            format!("user: {{ username: {}, password_file: {} }}", quoted(username), path(f))
        }
        UaUser::UserName { username, password: SecretSource::Env(v) } => {
            format!("user: {{ username: {}, password_env: {} }}", quoted(username), quoted(v))
        }
        UaUser::Certificate { cert, key } => {
            format!("user: {{ certificate: {{ cert: {}, key: {} }} }}", path(cert), path(key))
        }
    })
}

fn render(opts: &BrowseOptions, found: &Found) -> String {
    let ua = &opts.job.ua;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "# ttyhmi browse {} from {}, depth {}: {} variables",
        one_line(&ua.endpoint),
        found.root,
        opts.depth,
        found.vars.len()
    );
    if found.truncated {
        let _ = writeln!(out, "# the walk stopped after {MAX_NODES} nodes; browse a deeper --root for the rest");
    }
    out.push_str("connections:\n");
    let _ = writeln!(out, "  {}:", key(&opts.connection_name));
    out.push_str("    opcua:\n");
    let _ = writeln!(out, "      endpoint: {}", quoted(&ua.endpoint));
    let _ = writeln!(out, "      security: {}", security_text(&ua.security));
    if ua.accept_host_name_mismatch {
        out.push_str("      accept_host_name_mismatch: true\n");
    }
    if let Some(u) = user_comment(&ua.user) {
        let _ = writeln!(out, "      # {u}");
    }
    let _ = writeln!(out, "    publishing_interval: {}", format_duration(ua.publishing_interval));
    if found.vars.is_empty() {
        out.push_str("tags: {}\n");
    } else {
        out.push_str("tags:\n");
    }
    let mut names = Names::default();
    for v in &found.vars {
        let name = names.unique(&base_name(&v.path));
        out.push_str(&tag_line(&name, &opts.connection_name, v));
        out.push('\n');
    }
    for s in &found.skipped {
        let _ = writeln!(out, "  # skipped (no layout NodeId form): {}", one_line(s));
    }
    out
}

// Against the simulated plant's OPC UA server.
#[cfg(feature = "sim")]
#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use super::*;
    use crate::layout::{ConnId, OpcUaConn, TagSource, UaMode, UaPolicy};
    use crate::sim::{SimHandle, SimOptions, start_with};

    fn p(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn names_from_browse_paths() {
        assert_eq!(sanitize("Tank1"), "TANK1");
        assert_eq!(sanitize("FeedFlow"), "FEED_FLOW");
        assert_eq!(sanitize("PressureSetpoint"), "PRESSURE_SETPOINT");
        assert_eq!(sanitize("UInt16"), "UINT16");
        assert_eq!(sanitize("Int32Array"), "INT32_ARRAY");
        assert_eq!(sanitize("Temp (°C)"), "TEMP_C");
        assert_eq!(sanitize("a--b..c"), "A_B_C");
        assert_eq!(sanitize("Grüße"), "GR_E");
        assert_eq!(sanitize("世界"), "");
        assert_eq!(base_name(&p(&["Plant", "Tank1", "Level"])), "PLANT_TANK1_LEVEL");
        assert_eq!(base_name(&p(&["Plant", "Boiler", "FeedFlow"])), "PLANT_BOILER_FEED_FLOW");
        assert_eq!(base_name(&p(&["1st", "x"])), "_1ST_X");
        assert_eq!(base_name(&p(&["世界"])), "TAG");
        assert_eq!(base_name(&[]), "TAG");
        assert_eq!(base_name(&p(&["", "Level"])), "LEVEL");
        // Too long: the leading parts go first, the most specific stay.
        let long = p(&["Aaaaaaaaaaaaaaaaaaaa", "Bbbbbbbbbbbbbbbbbbbb", "Cccccccccccccccccccc", "Dddddddddddddddddddd"]);
        assert_eq!(base_name(&long), format!("{}_{}_{}", "B".repeat(20), "C".repeat(20), "D".repeat(20)));
        let one = "x".repeat(100);
        assert_eq!(base_name(&[one]), "X".repeat(64));
        for path in [p(&["Plant", "Tank1", "Level"]), long, p(&["9"]), p(&["_"]), p(&["a".repeat(70).as_str(), "b"])] {
            let n = base_name(&path);
            assert!(valid_name(&n), "{n}");
        }
    }

    #[test]
    fn duplicate_names_get_a_suffix() {
        let mut names = Names::default();
        assert_eq!(names.unique("A"), "A");
        assert_eq!(names.unique("A"), "A_2");
        assert_eq!(names.unique("A"), "A_3");
        assert_eq!(names.unique("A_2"), "A_2_2");
        let long = "L".repeat(64);
        assert_eq!(names.unique(&long), long);
        let second = names.unique(&long);
        assert_eq!(second, format!("{}_2", "L".repeat(62)));
        assert!(valid_name(&second));
    }

    #[test]
    fn node_ids_in_layout_form() {
        let uris = vec![Some("http://opcfoundation.org/UA/".to_string()), Some("urn:ttyhmi:sim".to_string()), None];
        assert_eq!(node_text(&NodeId::new(0, 2258u32), &uris).as_deref(), Some("i=2258"));
        assert_eq!(
            node_text(&NodeId::new(1, "Plant.Tank1.Level"), &uris).as_deref(),
            Some("nsu=urn:ttyhmi:sim;s=Plant.Tank1.Level")
        );
        assert_eq!(node_text(&NodeId::new(2, 7u32), &uris).as_deref(), Some("ns=2;i=7"), "no URI known");
        assert_eq!(node_text(&NodeId::new(1, ""), &uris), None, "empty string ids have no text form");
        assert_eq!(node_text(&NodeId::new(1, " padded "), &uris), None, "would not read back the same");
        let g = "09087E75-8E5E-499B-954F-F2A9603DB28A".parse::<opcua::types::Guid>().unwrap();
        assert_eq!(
            node_text(&NodeId::new(1, g), &uris).as_deref(),
            Some("nsu=urn:ttyhmi:sim;g=09087e75-8e5e-499b-954f-f2a9603db28a")
        );
        let b = NodeId::new(1, ByteString::from(vec![0u8, 1, 2]));
        assert_eq!(node_text(&b, &uris).as_deref(), Some("nsu=urn:ttyhmi:sim;b=AAEC"));
        let semi = vec![None, Some("urn:a;b".to_string())];
        assert_eq!(node_text(&NodeId::new(1, 5u32), &semi).as_deref(), Some("ns=1;i=5"));
    }

    #[test]
    fn endpoint_addresses() {
        assert_eq!(socket_addr("opc.tcp://127.0.0.1:4841/path").as_deref(), Some("127.0.0.1:4841"));
        assert_eq!(socket_addr("opc.tcp://plc").as_deref(), Some("plc:4840"));
        assert_eq!(socket_addr("opc.tcp://[::1]:4842").as_deref(), Some("[::1]:4842"));
        assert_eq!(socket_addr("opc.tcp://[::1]/").as_deref(), Some("[::1]:4840"));
        assert_eq!(socket_addr("opc.tcp://::1"), None);
        assert_eq!(socket_addr("http://x:1"), None);
    }

    #[test]
    fn yaml_lines() {
        let v = Var {
            node: "nsu=urn:ttyhmi:sim;s=Plant.Tank1.Level".into(),
            units: Some("%".into()),
            description: Some("Tank 1 \"level\"\n".into()),
            data_type: Some("Double".into()),
            range: Some((0.0, 100.0)),
            ..Var::default()
        };
        assert_eq!(
            tag_line("PLANT_TANK1_LEVEL", "ua1", &v),
            r#"  PLANT_TANK1_LEVEL: { source: "ua1", node: "nsu=urn:ttyhmi:sim;s=Plant.Tank1.Level", units: "%", description: "Tank 1 \"level\"\\n" }  # Double, EURange 0..100"#
        );
        let bare = Var { node: "i=2258".into(), ..Var::default() };
        assert_eq!(tag_line("TRUE", "ua1", &bare), r#"  "TRUE": { source: "ua1", node: "i=2258" }"#);
        assert_eq!(range_text((-1.5, 1500.0)), "-1.5..1500");
        let secure = UaSecurity::Secure { policy: UaPolicy::Aes256Sha256RsaPss, mode: UaMode::SignAndEncrypt };
        assert_eq!(security_text(&secure), "{ policy: Aes256_Sha256_RsaPss, mode: SignAndEncrypt }");
        let user = UaUser::UserName { username: "operator".into(), password: SecretSource::Env("UA_PASS".into()) };
        assert_eq!(user_comment(&user).unwrap(), r#"user: { username: "operator", password_env: "UA_PASS" }"#);
    }

    #[test]
    fn rendered_output_is_a_valid_layout() {
        let mut opts = options("opc.tcp://127.0.0.1:4840".into(), std::env::temp_dir(), None, 3);
        opts.job.ua.security = UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::Sign };
        opts.job.ua.user =
            UaUser::UserName { username: "op".into(), password: SecretSource::File("/etc/ttyhmi/ua.pass".into()) };
        let var = |path: &[&str], node: &str| Var { path: p(path), node: node.into(), ..Var::default() };
        let found = Found {
            root: "i=85".into(),
            vars: vec![
                var(&["A", "B"], "i=1"),
                var(&["A_B"], "i=2"),
                var(&["True"], "i=3"),
                Var {
                    description: Some("x: [y] # z".into()),
                    units: Some("m³/h".into()),
                    ..var(&["Flow"], "ns=1;s=a\"b")
                },
            ],
            skipped: vec!["X/Y (ns=1;s=)".into()],
            truncated: true,
        };
        let yaml = render(&opts, &found);
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let names: Vec<&str> = layout.tags.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["A_B", "A_B_2", "TRUE", "FLOW"]);
        assert_eq!(layout.tags[3].description, "x: [y] # z");
        assert_eq!(layout.tags[3].units, "m³/h");
        assert!(yaml.contains("# user: { username: \"op\", password_file: \"/etc/ttyhmi/ua.pass\" }"), "{yaml}");
        let empty = render(&opts, &Found::default());
        let layout = crate::layout::parse(&empty, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{empty}"));
        assert!(layout.tags.is_empty());
    }

    /// Names, descriptions, units, data type names and node ids come from the server: whatever a
    /// hostile server puts in them (clear screen, window title, right-to-left override, line
    /// breaks), the output has no control, bidirectional or invisible character, is still a valid
    /// layout, and keeps each node id exact (it must address the same node).
    #[test]
    fn hostile_server_texts_never_reach_the_terminal_and_the_yaml_stays_valid() {
        let mut opts = options("opc.tcp://127.0.0.1:4840".into(), std::env::temp_dir(), None, 3);
        opts.job.ua.security = UaSecurity::Secure { policy: UaPolicy::Basic256Sha256, mode: UaMode::Sign };
        opts.job.ua.accept_host_name_mismatch = true;
        let evil = "\u{1b}[2J\u{1b}]0;owned\u{7}SAFE\u{202e}DENEPO\u{9b}\u{200b}\n  X: {}";
        let found = Found {
            root: "i=85".into(),
            vars: vec![Var {
                path: p(&[evil]),
                node: format!("ns=1;s=a{evil}"),
                description: Some(evil.into()),
                units: Some(format!("m\u{202e}{evil}")),
                data_type: Some(format!("Double{evil}")),
                range: None,
            }],
            skipped: vec![format!("X/{evil} (ns=1;s=)")],
            truncated: false,
        };
        let yaml = render(&opts, &found);
        let raw: Vec<char> = yaml.chars().filter(|&c| c != '\n' && crate::sanitize::is_unsafe(c)).collect();
        assert!(raw.is_empty(), "unsafe characters {raw:?} in:\n{yaml}");
        assert_eq!(yaml.lines().count(), 11, "one line per item:\n{yaml}");
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let TagSource::OpcUa(point) = &layout.tags[0].source else { panic!("an OPC UA tag") };
        assert_eq!(point.node.to_string(), format!("ns=1;s=a{evil}"), "the node id exactly");
        assert_eq!(layout.tags[0].description, crate::sanitize::clean(evil), "the description, made visible");
        assert!(layout.tags[0].description.contains("SAFE\\u{202e}DENEPO"), "{}", layout.tags[0].description);
        let crate::layout::ConnectionKind::OpcUa(ua) = &layout.connections[0].kind else { panic!("OPC UA") };
        assert!(ua.accept_host_name_mismatch, "kept in the output:\n{yaml}");
    }

    // -----------------------------------------------------------------------------------------
    // Against the simulated plant's OPC UA server

    /// A folder under the temp dir, unique to this test and process, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(test: &str) -> TempDir {
            let d = std::env::temp_dir().join(format!("ttyhmi-browse-{test}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&d);
            std::fs::create_dir_all(&d).unwrap();
            TempDir(d)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn options(url: String, pki: PathBuf, root: Option<&str>, depth: usize) -> BrowseOptions {
        let ua = OpcUaConn {
            endpoint: url,
            security: UaSecurity::None,
            user: UaUser::Anonymous,
            publishing_interval: Duration::from_millis(500),
            accept_host_name_mismatch: false,
        };
        BrowseOptions {
            job: UaJob {
                conn: ConnId(0),
                name: "ua1".into(),
                ua,
                timeout: Duration::from_secs(5),
                points: vec![],
                pki,
            },
            root: root.map(|r| NodeRef::parse(r).unwrap()),
            depth,
            connection_name: "ua1".into(),
        }
    }

    async fn sim(dir: &Path) -> SimHandle {
        let o = SimOptions { step: None, opcua_load_items: 5, opcua_pki: dir.join("server"), ..SimOptions::default() };
        start_with(([127, 0, 0, 1], 0).into(), o).await.expect("sim starts")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn browse_the_simulated_plant() {
        let dir = TempDir::new("plant");
        let sim = sim(&dir.0).await;
        let url = sim.opcua_url().unwrap();
        // Security None: the client checks no server certificate, so nothing needs trusting.
        let opts = options(url.clone(), dir.0.join("client"), Some("nsu=urn:ttyhmi:sim;s=Plant"), 10);
        // Two references per answer: every node with more children goes through BrowseNext.
        let yaml = browse_with(&opts, 2).await.expect("browse");
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));

        let tag = |name: &str| layout.tags.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}\n{yaml}"));
        let level = tag("PLANT_TANK1_LEVEL");
        assert_eq!(level.units, "%");
        assert!(!level.description.is_empty());
        let TagSource::OpcUa(point) = &level.source else { panic!("an OPC UA tag") };
        assert_eq!(point.node.to_string(), "nsu=urn:ttyhmi:sim;s=Plant.Tank1.Level");
        let line = yaml.lines().find(|l| l.trim_start().starts_with("PLANT_TANK1_LEVEL:")).unwrap();
        assert!(line.ends_with("# Double, EURange 0..100"), "{line}");
        assert_eq!(tag("PLANT_BOILER_FEED_FLOW").units, "m³/h");
        assert!(yaml.contains("# DateTime"), "{yaml}");
        assert!(yaml.contains("# Double[]"), "{yaml}");
        assert_eq!(tag("PLANT_LOAD_V0004").units, "");
        assert!(yaml.contains("PLANT_TEST_WRITABLE_INT16:"), "{yaml}");

        let mut seen = HashSet::new();
        for t in &layout.tags {
            assert!(
                valid_name(&t.name) && t.name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'),
                "{}",
                t.name
            );
            assert!(seen.insert(t.name.clone()), "duplicate {}", t.name);
            let TagSource::OpcUa(point) = &t.source else { panic!("an OPC UA tag") };
            let node = point.node.to_string();
            assert!(!node.ends_with(".EngineeringUnits") && !node.ends_with(".EURange"), "property as a tag: {node}");
            assert!(node.starts_with("nsu=urn:ttyhmi:sim;s=Plant."), "{node}");
        }
        // Plant.Name, Clock, Counter; 6 boiler, 1 per tank, 4 per pump; 16 + 8 test values; 5 load.
        assert!(layout.tags.len() >= 3 + 6 + 2 + 8 + 24 + 5, "{yaml}");
        assert!(yaml.starts_with(&format!("# ttyhmi browse {url} from nsu=urn:ttyhmi:sim;s=Plant, depth 10")));
        sim.stop().await;
    }

    /// A real server whose names and descriptions attack the terminal: the YAML printed holds
    /// none of it raw, is a valid layout, and addresses the same nodes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_server_with_hostile_names_gives_safe_valid_yaml() {
        use opcua::server::address_space::VariableBuilder;
        use opcua::server::diagnostics::NamespaceMetadata;
        use opcua::server::node_manager::memory::{SimpleNodeManager, simple_node_manager};
        use opcua::types::{DataTypeId, ObjectId, QualifiedName};

        const URI: &str = "urn:ttyhmi:test:hostile-names";
        let evil_id = "Valve\u{1b}]0;owned\u{7}";
        let dir = TempDir::new("hostile");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let ns = NamespaceMetadata { namespace_uri: URI.into(), ..NamespaceMetadata::default() };
        let (server, handle) = opcua::server::ServerBuilder::new_anonymous("hostile names")
            .application_uri("urn:ttyhmi:test:hostile")
            .host("127.0.0.1")
            .port(port)
            .discovery_urls(vec![format!("opc.tcp://127.0.0.1:{port}/")])
            .pki_dir(dir.0.join("server"))
            .create_sample_keypair(true)
            .with_node_manager(simple_node_manager(ns, "hostile"))
            .build()
            .unwrap();
        let nm = handle.node_managers().get_by_name::<SimpleNodeManager>("hostile").unwrap();
        let i = *nm.namespaces().keys().next().unwrap();
        {
            let mut space = nm.address_space().write();
            VariableBuilder::new(
                &NodeId::new(i, "Pump"),
                QualifiedName::new(i, "Pump\u{1b}[2J"),
                "\u{1b}[2JSAFE\u{202e}DENEPO",
            )
            .data_type(DataTypeId::Double)
            .value(1.0)
            .organized_by(ObjectId::ObjectsFolder)
            .insert(&mut *space);
            VariableBuilder::new(&NodeId::new(i, evil_id), QualifiedName::new(i, "Valve"), "Valve")
                .description("open\u{202e}\u{9b}2J\u{200b}")
                .data_type(DataTypeId::Boolean)
                .value(true)
                .organized_by(ObjectId::ObjectsFolder)
                .insert(&mut *space);
        }
        let task = tokio::spawn(async move {
            let _ = server.run_with(listener).await;
        });
        let opts = options(format!("opc.tcp://127.0.0.1:{port}"), dir.0.join("client"), None, 1);
        let yaml = browse(&opts).await.expect("browse");
        handle.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), task).await;

        let raw: Vec<char> = yaml.chars().filter(|&c| c != '\n' && crate::sanitize::is_unsafe(c)).collect();
        assert!(raw.is_empty(), "unsafe characters {raw:?} in:\n{yaml}");
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let tag = |name: &str| layout.tags.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("{name}\n{yaml}"));
        let pump = tag("PUMP_2_J");
        assert_eq!(pump.description, "\\x1b[2JSAFE\\u{202e}DENEPO", "the display name, made visible");
        let valve = tag("VALVE");
        assert_eq!(valve.description, "open\\u{202e}\\x9b2J\\u{200b}");
        let TagSource::OpcUa(point) = &valve.source else { panic!("an OPC UA tag") };
        assert_eq!(point.node.to_string(), format!("nsu={URI};s={evil_id}"), "the same node, exactly");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn depth_limits_the_walk_and_errors_are_clear() {
        let dir = TempDir::new("depth");
        let sim = sim(&dir.0).await;
        let url = sim.opcua_url().unwrap();
        let pki = dir.0.join("client");
        // Objects → Plant, Server: no variables one level down.
        let yaml = browse(&options(url.clone(), pki.clone(), None, 1)).await.expect("browse");
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        assert!(layout.tags.is_empty(), "{yaml}");
        // Two levels: Plant's own variables, nothing from its folders.
        let yaml = browse(&options(url.clone(), pki.clone(), None, 2)).await.expect("browse");
        let layout = crate::layout::parse(&yaml, "browse.yaml").unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        let names: Vec<&str> = layout.tags.iter().map(|t| t.name.as_str()).collect();
        assert!(names.contains(&"PLANT_NAME") && names.contains(&"PLANT_COUNTER"), "{yaml}");
        assert!(!names.iter().any(|n| n.starts_with("PLANT_TANK1")), "{yaml}");

        let e = browse(&options(url.clone(), pki.clone(), Some("nsu=urn:ttyhmi:sim;s=Nowhere"), 1)).await.unwrap_err();
        assert!(e.contains("Bad_NodeIdUnknown"), "{e}");
        let e = browse(&options(url.clone(), pki.clone(), Some("nsu=urn:other;i=1"), 1)).await.unwrap_err();
        assert!(e.contains("not on this server"), "{e}");
        let mut bad = options(url.clone(), pki.clone(), None, 1);
        bad.connection_name = "1st".into();
        assert!(browse(&bad).await.unwrap_err().contains("connection name"));
        sim.stop().await;
        let gone = options(url, pki, None, 1);
        let e = browse(&gone).await.unwrap_err();
        assert!(e.contains("cannot reach"), "{e}");
    }
}
