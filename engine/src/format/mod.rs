//! On-disk structures, one `Encode`/`Decode` pair each. The byte maps are
//! in `docs/format.md`; keep the two in step.

pub mod consumer;
pub mod index;
pub mod record;
pub mod segment;
pub mod tomb;

/// Format version written into every file header.
pub const FORMAT_VERSION: u16 = 1;

/// CRC32C (Castagnoli), the checksum of every record and header.
pub fn crc(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}
