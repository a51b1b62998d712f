//! kefu: a self-hosted help desk in one binary. `main.rs` only parses arguments; everything
//! else lives here so the tests drive the same code.

pub mod app;
pub mod cli;
pub mod config;
pub mod data_dir;
pub mod domain;
pub mod http;
pub mod ml;
pub mod realtime;
pub mod search;
pub mod service;
pub mod store;
