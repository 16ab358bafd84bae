//! `hotline`: the back end of a citizen-request hotline (12345-style).
//!
//! Layout: domain rules in plain modules (`auth`, `accounts`, `tickets`, `routing`, `phone`,
//! ...), storage in `db`, the HTTP layer in `http`, wiring in `startup`, the command line in
//! `cli`. See docs/ARCHITECTURE.md and, for the vocabulary, docs/domain.md.

pub mod accounts;
pub mod auth;
pub mod bench;
pub mod bulk;
pub mod calendar;
pub mod catalogue;
pub mod cli;
pub mod clock;
pub mod config;
pub mod db;
pub mod deadlines;
pub mod demo;
pub mod error;
pub mod files;
pub mod http;
pub mod ids;
pub mod jobs;
pub mod notify;
pub mod open311;
pub mod org;
pub mod pagination;
pub mod phone;
pub mod regions;
pub mod routing;
pub mod serde_util;
pub mod startup;
pub mod state;
pub mod stats;
pub mod telemetry;
pub mod tickets;
pub mod tree;
pub mod validate;
pub mod vocab;

pub use startup::Application;
