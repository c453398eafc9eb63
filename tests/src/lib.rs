//! Helpers to start a real Nile process for end-to-end tests.
