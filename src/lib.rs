//! clawinit as a library: the pipeline modules, so the binary, the
//! integration tests and the fuzz targets share one implementation.

pub mod account;
pub mod capabilities;
pub mod cli;
pub mod commands;
pub mod config;
pub mod environment;
pub mod exit;
pub mod fault;
pub mod files;
pub mod hardening;
pub mod interrupt;
pub mod logging;
pub mod names;
pub mod openclaw_version;
pub mod ownership;
pub mod secrets;
pub mod settings;
pub mod start;
pub mod supervise;
pub mod workdir;
pub mod writable_dirs;
