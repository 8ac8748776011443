//! Typed settings from the environment (`CLAWINIT_*`), read once at start.
//! A bad value is a usage error (exit 64) that names the variable.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::exit::{Exit, Failure};

const PREFIX: &str = "CLAWINIT_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    Off,
    Error,
    Warn,
    #[default]
    Info,
    Debug,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReadyProbe {
    #[default]
    Http,
    Tcp,
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum RestartPolicy {
    #[default]
    Never,
    OnFailure,
    Always,
}

/// What a reload that restarts the gateway does with the worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ReloadWorker {
    /// The worker keeps running (it reads the gateway, not the keys).
    #[default]
    Keep,
    /// Restarted with the new environment once the gateway is ready again.
    Restart,
}

/// How `apiKey` references are written: SecretRef objects (OpenClaw
/// 2026.3+), or `"${VAR}"` strings for older gateways.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum KeyRefs {
    #[default]
    Secretref,
    EnvString,
}

/// What a start does with an OpenClaw release outside the tested range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum OpenclawVersions {
    /// One warning; the start goes on.
    #[default]
    Warn,
    /// Exit 78 before anything is written.
    Strict,
}

fn yes() -> bool {
    true
}
fn ready_timeout() -> u64 {
    180
}
fn stop_timeout() -> u64 {
    9
}
fn key_cmd_timeout() -> u64 {
    30
}

/// The accepted ranges of the numeric settings, in seconds. The maxima are
/// far beyond any real need, and keep every deadline clawinit computes from
/// them representable (`u64::MAX` seconds overflowed `Instant + Duration`).
/// Ready: a day. OpenClaw's cold start takes seconds to minutes; a gate that
/// waits longer is a misconfiguration, not patience.
pub const READY_TIMEOUT: RangeInclusive<u64> = 0..=86_400;
/// Stop: an hour. Orchestrator grace periods are Docker's 10 s, Kubernetes'
/// 30 s default, Fly's `kill_timeout` (at most 300 s); a longer shutdown
/// would only be cut short by the orchestrator's own SIGKILL.
pub const STOP_TIMEOUT: RangeInclusive<u64> = 0..=3_600;
/// Key command: at least a second (0 could never succeed), at most an hour
/// like stop; a key service that needs more than the 30 s default is rare.
pub const KEY_CMD_TIMEOUT: RangeInclusive<u64> = 1..=3_600;
/// Watch period: up to a day like ready (0 is off).
pub const SECRETS_WATCH: RangeInclusive<u64> = 0..=86_400;

/// Every `CLAWINIT_*` setting of the contract. Empty variables count as unset.
/// All are validated at start (a bad value is exit 64 whatever the command);
/// the supervision and config fields are consumed by `run`, `render`, `check`.
#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub secrets_file: Option<PathBuf>,
    /// A directory of one file per variable (a Kubernetes Secret volume).
    pub secrets_dir: Option<PathBuf>,
    #[serde(default)]
    pub secrets_override: bool,
    #[serde(default)]
    pub log: LogLevel,
    #[serde(default)]
    pub log_format: LogFormat,
    pub config_overlay: Option<PathBuf>,
    #[serde(default = "yes")]
    pub config_write: bool,
    #[serde(default)]
    pub config_refs: KeyRefs,
    pub gateway_cmd: Option<String>,
    #[serde(default)]
    pub ready_probe: ReadyProbe,
    #[serde(default = "ready_timeout")]
    pub ready_timeout: u64,
    #[serde(default = "yes")]
    pub ready_required: bool,
    #[serde(default = "stop_timeout")]
    pub stop_timeout: u64,
    #[serde(default)]
    pub gateway_restart: RestartPolicy,
    pub user: Option<String>,
    /// Seconds `SOPS_AGE_KEY_CMD` may run.
    #[serde(default = "key_cmd_timeout")]
    pub key_cmd_timeout: u64,
    /// Seconds to report not-ready before stopping on TERM/INT.
    #[serde(default)]
    pub stop_delay: u64,
    /// `n/seconds`; read with `restart_limit()`.
    pub gateway_restart_limit: Option<String>,
    /// Seconds between checks of the secret sources and the overlay; 0 is off.
    #[serde(default)]
    pub secrets_watch: u64,
    #[serde(default)]
    pub reload_worker: ReloadWorker,
    /// An OpenClaw release outside the tested range: warn, or refuse.
    #[serde(default)]
    pub openclaw_versions: OpenclawVersions,
}

impl Settings {
    /// Every `CLAWINIT_*` variable, from the struct's own fields (serde lists
    /// them to a deserializer), so the docs' and examples' checks can never
    /// drift from what is read.
    pub fn names() -> Vec<String> {
        let mut grab = FieldNames(&[]);
        let _ = Settings::deserialize(&mut grab);
        grab.0.iter().map(|f| format!("{PREFIX}{}", f.to_uppercase())).collect()
    }

    pub fn from_env() -> Result<Settings, Failure> {
        Self::from_vars(std::env::vars_os())
    }

    pub fn from_vars(vars: impl IntoIterator<Item = (OsString, OsString)>) -> Result<Settings, Failure> {
        let mut ours = BTreeMap::new();
        for (name, value) in vars {
            let Some(name) = name.to_str().filter(|n| n.starts_with(PREFIX)) else {
                continue;
            };
            if value.is_empty() {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| Failure::new(Exit::Usage, format!("{name}: the value is not valid UTF-8")))?;
            ours.insert(name.to_string(), value);
        }
        let settings = envy::prefixed(PREFIX).from_iter::<_, Settings>(ours.clone()).map_err(|e| {
            // envy does not always say which variable failed; find it by
            // reading each variable on its own.
            let culprit = ours
                .iter()
                .find(|(k, v)| envy::prefixed(PREFIX).from_iter::<_, Settings>([((*k).clone(), (*v).clone())]).is_err())
                .map(|(k, _)| k.as_str())
                .unwrap_or("a CLAWINIT_* variable");
            Failure::new(Exit::Usage, format!("{culprit}: invalid value ({e})"))
        })?;
        settings.check_ranges()?;
        Ok(settings)
    }

    /// `CLAWINIT_GATEWAY_RESTART_LIMIT`, validated when the settings are read.
    pub fn restart_limit(&self) -> Option<RestartLimit> {
        self.gateway_restart_limit.as_deref().and_then(|t| t.parse().ok())
    }

    /// Every numeric setting within its documented range.
    fn check_ranges(&self) -> Result<(), Failure> {
        if let Some(text) = &self.gateway_restart_limit {
            text.parse::<RestartLimit>().map_err(|why| {
                Failure::new(Exit::Usage, format!("CLAWINIT_GATEWAY_RESTART_LIMIT: invalid value ({why})"))
            })?;
        }
        let numeric = [
            ("CLAWINIT_READY_TIMEOUT", self.ready_timeout, READY_TIMEOUT),
            ("CLAWINIT_STOP_TIMEOUT", self.stop_timeout, STOP_TIMEOUT),
            ("CLAWINIT_KEY_CMD_TIMEOUT", self.key_cmd_timeout, KEY_CMD_TIMEOUT),
            ("CLAWINIT_STOP_DELAY", self.stop_delay, STOP_TIMEOUT),
            ("CLAWINIT_SECRETS_WATCH", self.secrets_watch, SECRETS_WATCH),
        ];
        for (name, value, range) in numeric {
            if !range.contains(&value) {
                let (min, max) = range.into_inner();
                return Err(Failure::new(
                    Exit::Usage,
                    format!("{name}: invalid value ({value}; from {min} to {max} s)"),
                ));
            }
        }
        Ok(())
    }
}

/// A deserializer that only records the field names of the struct asked of it.
struct FieldNames(&'static [&'static str]);

impl<'de> serde::Deserializer<'de> for &mut FieldNames {
    type Error = serde::de::value::Error;

    fn deserialize_struct<V: serde::de::Visitor<'de>>(
        self,
        _name: &'static str,
        fields: &'static [&'static str],
        _visitor: V,
    ) -> Result<V::Value, Self::Error> {
        self.0 = fields;
        Err(serde::de::Error::custom("field names recorded"))
    }

    fn deserialize_any<V: serde::de::Visitor<'de>>(self, _visitor: V) -> Result<V::Value, Self::Error> {
        Err(serde::de::Error::custom("only structs"))
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf option unit
        unit_struct newtype_struct seq tuple tuple_struct map enum identifier ignored_any
    }
}

/// `CLAWINIT_GATEWAY_RESTART_LIMIT=n/seconds`: at most n restarts (n+1
/// starts) inside any window of that many seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestartLimit {
    pub restarts: u32,
    pub window: Duration,
}

impl std::str::FromStr for RestartLimit {
    type Err = &'static str;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const FORMAT: &str = "expected n/seconds, e.g. 5/300";
        let (n, secs) = text.trim().split_once('/').ok_or(FORMAT)?;
        let restarts = n.trim().parse().map_err(|_| FORMAT)?;
        let secs: u64 = secs.trim().parse().map_err(|_| FORMAT)?;
        if !(1..=86_400).contains(&secs) {
            return Err("the window is from 1 to 86400 seconds");
        }
        Ok(RestartLimit { restarts, window: Duration::from_secs(secs) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(list: &[(&str, &str)]) -> Vec<(OsString, OsString)> {
        list.iter().map(|(k, v)| (OsString::from(k), OsString::from(v))).collect()
    }

    #[test]
    fn names_come_from_the_fields() {
        let names = Settings::names();
        for name in ["CLAWINIT_SECRETS_FILE", "CLAWINIT_STOP_DELAY", "CLAWINIT_GATEWAY_RESTART_LIMIT", "CLAWINIT_USER"]
        {
            assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
        }
        assert_eq!(names.len(), 21, "{names:?}");
    }

    #[test]
    fn defaults_follow_the_contract() {
        let s = Settings::from_vars(vars(&[("HOME", "/root")])).unwrap();
        assert_eq!(s.secrets_file, None);
        assert!(!s.secrets_override);
        assert_eq!((s.ready_timeout, s.stop_timeout, s.key_cmd_timeout), (180, 9, 30));
        assert!(s.config_write && s.ready_required);
        assert_eq!(s.ready_probe, ReadyProbe::Http);
        assert_eq!(s.gateway_restart, RestartPolicy::Never);
        assert_eq!((s.log, s.log_format), (LogLevel::Info, LogFormat::Text));
    }

    #[test]
    fn typed_values_and_empty_means_unset() {
        let s = Settings::from_vars(vars(&[
            ("CLAWINIT_SECRETS_FILE", "/run/secrets/env.enc"),
            ("CLAWINIT_SECRETS_OVERRIDE", "true"),
            ("CLAWINIT_GATEWAY_RESTART", "on-failure"),
            ("CLAWINIT_LOG", "debug"),
            ("CLAWINIT_USER", ""),
        ]))
        .unwrap();
        assert_eq!(s.secrets_file.unwrap(), PathBuf::from("/run/secrets/env.enc"));
        assert!(s.secrets_override);
        assert_eq!(s.gateway_restart, RestartPolicy::OnFailure);
        assert_eq!(s.log, LogLevel::Debug);
        assert_eq!(s.user, None);
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (name, value) in [
            ("CLAWINIT_SECRETS_OVERRIDE", "maybe"),
            ("CLAWINIT_READY_TIMEOUT", "soon"),
            ("CLAWINIT_READY_PROBE", "ping"),
            ("CLAWINIT_LOG", "loud"),
        ] {
            let err = Settings::from_vars(vars(&[("CLAWINIT_LOG_FORMAT", "json"), (name, value)])).unwrap_err();
            assert_eq!(err.exit, Exit::Usage);
            assert!(err.message.starts_with(name), "{}", err.message);
        }
    }

    #[test]
    fn numeric_settings_accept_their_whole_range() {
        for (name, min, max) in [
            ("CLAWINIT_READY_TIMEOUT", "0", "86400"),
            ("CLAWINIT_STOP_TIMEOUT", "0", "3600"),
            ("CLAWINIT_KEY_CMD_TIMEOUT", "1", "3600"),
            ("CLAWINIT_SECRETS_WATCH", "0", "86400"),
        ] {
            for value in [min, max] {
                assert!(Settings::from_vars(vars(&[(name, value)])).is_ok(), "{name}={value}");
            }
        }
        let s = Settings::from_vars(vars(&[("CLAWINIT_KEY_CMD_TIMEOUT", "45")])).unwrap();
        assert_eq!(s.key_cmd_timeout, 45);
        let s = Settings::from_vars(vars(&[("CLAWINIT_RELOAD_WORKER", "restart")])).unwrap();
        assert_eq!((s.reload_worker, s.secrets_watch), (ReloadWorker::Restart, 0));
        assert_eq!(s.openclaw_versions, OpenclawVersions::Warn);
        let s = Settings::from_vars(vars(&[("CLAWINIT_OPENCLAW_VERSIONS", "strict")])).unwrap();
        assert_eq!(s.openclaw_versions, OpenclawVersions::Strict);
    }

    #[test]
    fn numeric_settings_out_of_range_are_usage_errors_naming_the_variable() {
        for (name, value) in [
            ("CLAWINIT_READY_TIMEOUT", "86401"),
            ("CLAWINIT_READY_TIMEOUT", "18446744073709551615"),
            ("CLAWINIT_STOP_TIMEOUT", "3601"),
            ("CLAWINIT_STOP_TIMEOUT", "18446744073709551615"),
            ("CLAWINIT_STOP_TIMEOUT", "18446744073709551616"),
            ("CLAWINIT_KEY_CMD_TIMEOUT", "0"),
            ("CLAWINIT_KEY_CMD_TIMEOUT", "3601"),
            ("CLAWINIT_KEY_CMD_TIMEOUT", "-1"),
            ("CLAWINIT_KEY_CMD_TIMEOUT", "soon"),
            ("CLAWINIT_SECRETS_WATCH", "86401"),
            ("CLAWINIT_SECRETS_WATCH", "-1"),
            ("CLAWINIT_RELOAD_WORKER", "sometimes"),
            ("CLAWINIT_OPENCLAW_VERSIONS", "lenient"),
        ] {
            let err = Settings::from_vars(vars(&[("CLAWINIT_LOG", "warn"), (name, value)])).unwrap_err();
            assert_eq!(err.exit, Exit::Usage, "{name}={value}");
            assert!(err.message.starts_with(&format!("{name}: ")), "{}", err.message);
        }
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn restart_limits_parse_and_reject() {
        assert_eq!("5/300".parse(), Ok(RestartLimit { restarts: 5, window: secs(300) }));
        assert_eq!(" 0 / 60 ".parse::<RestartLimit>().unwrap().restarts, 0);
        for bad in ["5", "a/300", "5/0", "5/x", "-1/10", "5/86401"] {
            assert!(bad.parse::<RestartLimit>().is_err(), "{bad}");
        }
    }
}
