//! nile-server: the NATS client protocol and JetStream API in front of `nile-engine`.
//!
//! # Layout
//! - [`proto`]: the sans-IO codec: bytes → [`proto::ClientOp`], server frames → bytes.
//! - [`connection`]: one client: a reader task applying ops, a writer task draining output.
//! - [`client`]: the shared half of a connection: outbound buffer, counters, identity.
//! - [`sublist`], [`router`], [`subscription`], [`subject`]: who gets a message.
//! - [`auth`]: logins and per-user permissions.
//! - [`jetstream`]: streams on `nile-engine` and the `$JS.API.*` handlers.
//! - [`server`]: shared state and the accept loop; [`start`]: start-up, signals, shutdown.
//! - [`config`] and [`options`]: nats-server's flags and config file.
//! - [`monitor`]: the HTTP monitoring endpoints. [`logging`]: nats-server-shaped log lines.
//!
//! The data path: socket → `connection` (parse) → `router` (sublist match,
//! cached per connection) → each subscriber's `client` buffer → its writer task.

pub mod account;
pub mod auth;
pub mod client;
pub mod config;
pub mod connection;
pub mod import_nats;
pub mod imports;
pub mod jetstream;
pub mod jwt;
pub mod logging;
pub mod monitor;
pub mod options;
pub mod proto;
pub mod router;
pub mod server;
pub mod start;
pub mod subject;
pub mod sublist;
pub mod subscription;
pub mod tls;
pub mod trace;
pub mod ws;
