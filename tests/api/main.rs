//! Integration tests through the HTTP API, one test crate (one binary to link).

mod helpers;

mod api_clients;
mod auth;
mod calendar;
mod callbacks;
mod cli;
mod console;
mod deadlines;
mod errors;
mod notifications;
mod open311;
mod ops;
mod organisation;
mod robustness;
mod routing;
mod search;
mod security;
mod stats;
mod tickets;
mod users;
