//! nile-server: the NATS protocol and JetStream API in front of `nile-engine`.

pub mod config;
pub mod options;
