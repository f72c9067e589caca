//! `ttyhmi browse`: the layout block for an OPC UA server's address space, on standard output.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result, bail};

use super::common::{pki_dir, runtime};
use crate::driver::opcua::UaJob;
use crate::driver::opcua::browse::{BrowseOptions, browse as walk};
use crate::layout::nodeid::NodeRef;
use crate::layout::{ConnId, OpcUaConn, SecretSource, UaMode, UaPolicy, UaSecurity, UaUser};

#[derive(clap::Args)]
#[command(
    after_help = "Examples:\n  ttyhmi browse opc.tcp://10.0.0.5:4840 --root \"ns=2;s=Plant\" > plant.yaml\n  ttyhmi browse opc.tcp://127.0.0.1:4840 --security none --depth 3"
)]
pub(super) struct BrowseArgs {
    /// The server, e.g. opc.tcp://127.0.0.1:4840
    endpoint: String,
    /// Start here (a NodeId, e.g. "ns=2;s=Plant"); default the Objects folder.
    #[arg(long)]
    root: Option<String>,
    /// Levels below the root to walk.
    #[arg(long, default_value_t = 6)]
    depth: usize,
    /// `none`, or POLICY/MODE such as Basic256Sha256/SignAndEncrypt (the default).
    #[arg(long, default_value = "Basic256Sha256/SignAndEncrypt")]
    security: String,
    /// User name (with --password-file or --password-env); default anonymous.
    #[arg(long)]
    user: Option<String>,
    /// A file holding the user's password (only its first line is used).
    #[arg(long, value_name = "PATH")]
    password_file: Option<PathBuf>,
    /// An environment variable holding the user's password.
    #[arg(long, value_name = "NAME")]
    password_env: Option<String>,
    /// Name of the connection in the output.
    #[arg(long, default_value = "ua1")]
    name: String,
    /// Accept the server's (trusted) certificate although it does not name the endpoint's host,
    /// as the layout key `accept_host_name_mismatch: true` does (written into the output).
    #[arg(long)]
    accept_host_name_mismatch: bool,
}

pub(super) fn browse(a: BrowseArgs) -> Result<ExitCode> {
    let security = parse_security(&a.security)?;
    if a.accept_host_name_mismatch && security == UaSecurity::None {
        bail!(
            "--accept-host-name-mismatch applies to secure connections: with --security none no certificate is checked"
        );
    }
    let user = match (a.user, a.password_file, a.password_env) {
        (None, None, None) => UaUser::Anonymous,
        (Some(u), Some(f), None) => UaUser::UserName { username: u, password: SecretSource::File(f) },
        (Some(u), None, Some(e)) => UaUser::UserName { username: u, password: SecretSource::Env(e) },
        _ => bail!("--user needs exactly one of --password-file or --password-env (and they need --user)"),
    };
    let root = a.root.map(|r| NodeRef::parse(&r)).transpose().map_err(anyhow::Error::msg)?;
    let job = UaJob {
        conn: ConnId(0),
        name: a.name.clone(),
        ua: OpcUaConn {
            endpoint: a.endpoint,
            security,
            user,
            publishing_interval: Duration::from_millis(500),
            accept_host_name_mismatch: a.accept_host_name_mismatch,
        },
        timeout: Duration::from_secs(5),
        points: Vec::new(),
        pki: pki_dir(),
    };
    let opts = BrowseOptions { job, root, depth: a.depth, connection_name: a.name };
    let yaml = runtime()?.block_on(walk(&opts)).map_err(anyhow::Error::msg)?;
    print!("{yaml}");
    Ok(ExitCode::SUCCESS)
}

/// `none` or `Policy/Mode`.
fn parse_security(s: &str) -> Result<UaSecurity> {
    if s.eq_ignore_ascii_case("none") {
        return Ok(UaSecurity::None);
    }
    let (p, m) =
        s.split_once('/').context("--security is `none` or POLICY/MODE, e.g. Basic256Sha256/SignAndEncrypt")?;
    let policy = match p {
        "Basic256Sha256" => UaPolicy::Basic256Sha256,
        "Aes128_Sha256_RsaOaep" => UaPolicy::Aes128Sha256RsaOaep,
        "Aes256_Sha256_RsaPss" => UaPolicy::Aes256Sha256RsaPss,
        _ => bail!("unknown policy `{p}`: Basic256Sha256, Aes128_Sha256_RsaOaep or Aes256_Sha256_RsaPss"),
    };
    let mode = match m {
        "Sign" => UaMode::Sign,
        "SignAndEncrypt" => UaMode::SignAndEncrypt,
        _ => bail!("unknown mode `{m}`: Sign or SignAndEncrypt"),
    };
    Ok(UaSecurity::Secure { policy, mode })
}
