//! nile-engine: the storage engine under every Nile stream.
//!
//! It knows nothing of NATS or sockets. See `docs/format.md` for every byte it
//! writes and `docs/durability.md` for what an acknowledgement promises.
