//! The OpenClaw and sops variables clawinit reads, each named once: the code
//! uses these constants, and the examples' check (tests/examples.rs) the same
//! lists. `CLAWINIT_*` names come from the settings' own fields
//! (`Settings::names`); provider variables from the catalog.

pub const OPENCLAW_CONFIG_PATH: &str = "OPENCLAW_CONFIG_PATH";
pub const OPENCLAW_STATE_DIR: &str = "OPENCLAW_STATE_DIR";
pub const OPENCLAW_HOME: &str = "OPENCLAW_HOME";
pub const OPENCLAW_GATEWAY_PORT: &str = "OPENCLAW_GATEWAY_PORT";
pub const OPENCLAW_GATEWAY_BIND: &str = "OPENCLAW_GATEWAY_BIND";
pub const OPENCLAW_GATEWAY_TOKEN: &str = "OPENCLAW_GATEWAY_TOKEN";
pub const OPENCLAW_AGENT_MODEL: &str = "OPENCLAW_AGENT_MODEL";
pub const OPENCLAW_AGENT_FALLBACKS: &str = "OPENCLAW_AGENT_FALLBACKS";
pub const OPENCLAW_SUBAGENT_MODEL: &str = "OPENCLAW_SUBAGENT_MODEL";
pub const OPENCLAW_MODEL_ALIASES: &str = "OPENCLAW_MODEL_ALIASES";
pub const OPENCLAW_NO_RESPAWN: &str = "OPENCLAW_NO_RESPAWN";
pub const SOPS_AGE_KEY: &str = "SOPS_AGE_KEY";
pub const SOPS_AGE_KEY_FILE: &str = "SOPS_AGE_KEY_FILE";
pub const SOPS_AGE_KEY_CMD: &str = "SOPS_AGE_KEY_CMD";
pub const SOPS_AGE_SSH_PRIVATE_KEY_FILE: &str = "SOPS_AGE_SSH_PRIVATE_KEY_FILE";

/// Every OpenClaw variable clawinit reads or sets.
pub const OPENCLAW: [&str; 11] = [
    OPENCLAW_CONFIG_PATH,
    OPENCLAW_STATE_DIR,
    OPENCLAW_HOME,
    OPENCLAW_GATEWAY_PORT,
    OPENCLAW_GATEWAY_BIND,
    OPENCLAW_GATEWAY_TOKEN,
    OPENCLAW_AGENT_MODEL,
    OPENCLAW_AGENT_FALLBACKS,
    OPENCLAW_SUBAGENT_MODEL,
    OPENCLAW_MODEL_ALIASES,
    OPENCLAW_NO_RESPAWN,
];

/// The age identity variables (sops's), removed from every child.
pub const IDENTITY: [&str; 4] = [SOPS_AGE_KEY, SOPS_AGE_KEY_FILE, SOPS_AGE_KEY_CMD, SOPS_AGE_SSH_PRIVATE_KEY_FILE];

/// A name as a log line may show it: control characters and non-ASCII bytes
/// escaped, so a name cannot forge a line. Here, at the bottom, because the
/// secrets engine, the sources and the ownership walk below the children's
/// environment all name variables too.
pub fn shown_name(name: &[u8]) -> String {
    name.escape_ascii().to_string()
}
