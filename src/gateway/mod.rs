//! `ttyhmi gateway`: the Sparkplug B edge node. A plant core with no session that publishes the
//! plant to an MQTT broker and takes write commands from it.
//!
//! - [`run`]: the loop — the plant's channel, the broker connection, the edge node's timers.
//! - [`defs`]: what is published: each connection a device, each tag a metric, values as metric
//!   values.
//! - [`consoles`]: the consoles file (`--consoles FILE`): which consoles (Sparkplug host ids) may
//!   send commands, with their public command keys and the highest role each may claim; trusted
//!   only under the same ownership rules as the users file.
//! - [`check`]: the decision on a received command (pure): signed by a listed console, not
//!   replayed, within the console's and the tag's roles and the tag's limits.

pub mod check;
pub mod consoles;
pub mod defs;
pub mod run;
