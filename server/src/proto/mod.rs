//! The NATS client protocol as plain data: parse client ops, encode server frames.
//!
//! Sans-IO: nothing here touches a socket, so it can be fuzzed and tested
//! byte for byte. `connection.rs` owns the buffers and the socket.

pub mod describe;
pub mod encode;
pub mod parse;

pub use parse::{parse, ClientOp, ParseError, ParseLimits, Publish};

#[cfg(test)]
mod tests;
