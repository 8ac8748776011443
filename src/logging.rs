//! Logs go to stderr, as text or JSON, at the level of `CLAWINIT_LOG`.
//! Log lines name variables and files, never their values.

use tracing::level_filters::LevelFilter;

use crate::settings::{LogFormat, LogLevel, Settings};

pub fn init(settings: &Settings) {
    let level = match settings.log {
        LogLevel::Off => LevelFilter::OFF,
        LogLevel::Error => LevelFilter::ERROR,
        LogLevel::Warn => LevelFilter::WARN,
        LogLevel::Info => LevelFilter::INFO,
        LogLevel::Debug => LevelFilter::DEBUG,
        LogLevel::Trace => LevelFilter::TRACE,
    };
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_max_level(level)
        .with_ansi(false)
        .with_target(false);
    // A second init (tests) is harmless: the first subscriber stays.
    let _ = match settings.log_format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}
