//! `OPENCLAW_GATEWAY_TOKEN`: the gateway and the worker share one token,
//! which clawinit provides when the environment has none, and never writes.

use serde_json::Value;
use zeroize::Zeroizing;

use crate::environment::{ChildEnv, Lookup};
use crate::exit::{Exit, Failure};
use crate::names;

/// The variable both children read the token from.
pub const VAR: &str = names::OPENCLAW_GATEWAY_TOKEN;

/// The gateway and the worker share one token. When the environment has
/// none: the file's literal token if it has one (OpenClaw reads the config
/// first), else a random one for this boot (the same on every reload, so a
/// reload never changes it by itself), never written anywhere.
pub fn provide(doc: &Value, env: &mut ChildEnv) -> Result<(), Failure> {
    if env.present(VAR) {
        if doc.pointer("/gateway/auth/token").is_some_and(Value::is_string) {
            tracing::warn!(
                "gateway.auth.token in openclaw.json takes precedence over {VAR} in OpenClaw; the worker gets {VAR}"
            );
        }
        return Ok(());
    }
    if let Some(Value::String(literal)) = doc.pointer("/gateway/auth/token") {
        if !literal.contains("${") {
            env.set(VAR, Zeroizing::new(literal.as_bytes().to_vec()));
            return Ok(());
        }
    }
    env.set(VAR, boot_token()?);
    Ok(())
}

fn boot_token() -> Result<Zeroizing<Vec<u8>>, Failure> {
    static TOKEN: std::sync::OnceLock<Zeroizing<Vec<u8>>> = std::sync::OnceLock::new();
    if let Some(token) = TOKEN.get() {
        return Ok(token.clone());
    }
    let fresh = random_token()?;
    Ok(TOKEN.get_or_init(|| fresh).clone())
}

fn random_token() -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut raw = Zeroizing::new([0u8; 32]);
    getrandom::getrandom(raw.as_mut())
        .map_err(|e| Failure::new(Exit::Internal, format!("{VAR}: cannot get random bytes: {e}")))?;
    let mut hex = Zeroizing::new(Vec::with_capacity(64));
    for b in raw.iter() {
        hex.extend_from_slice(format!("{b:02x}").as_bytes());
    }
    Ok(hex)
}
