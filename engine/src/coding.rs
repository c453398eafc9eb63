//! `Encode` / `Decode`: the one definition of every on-disk struct.
//!
//! Writer and reader share these impls, so the format cannot drift between
//! them (see `docs/format.md`). All integers are little-endian.

/// Appends the on-disk form of `self` to a buffer.
pub trait Encode {
    /// Appends exactly `encoded_len()` bytes to `out`.
    fn encode_into(&self, out: &mut Vec<u8>);

    /// Number of bytes `encode_into` appends.
    fn encoded_len(&self) -> usize;

    /// Convenience: encode into a fresh vector.
    fn encode_to_vec(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }
}

/// Parses the on-disk form. Errors are short static strings; the caller
/// adds the file and offset.
pub trait Decode: Sized {
    /// Decodes from the start of `buf`, returning the value and the number
    /// of bytes consumed.
    fn decode_from(buf: &[u8]) -> Result<(Self, usize), DecodeError>;
}

/// Why bytes did not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Fewer bytes than the structure needs (a torn tail looks like this).
    Short,
    /// Enough bytes, but wrong magic, version, checksum or field value.
    Bad(&'static str),
}

impl DecodeError {
    /// Human-readable detail for `StoreError::Corrupted`.
    pub fn detail(self) -> String {
        match self {
            Self::Short => "truncated".to_string(),
            Self::Bad(s) => s.to_string(),
        }
    }
}

/// A bounds-checked little-endian reader over a slice.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// Starts reading at the beginning of `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Takes the next `n` bytes.
    pub fn bytes(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).ok_or(DecodeError::Short)?;
        let out = self.buf.get(self.pos..end).ok_or(DecodeError::Short)?;
        self.pos = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], DecodeError> {
        let s = self.bytes(N)?;
        let mut a = [0u8; N];
        a.copy_from_slice(s);
        Ok(a)
    }

    /// Next byte.
    pub fn u8(&mut self) -> Result<u8, DecodeError> {
        Ok(self.array::<1>()?[0])
    }
    /// Next little-endian u16.
    pub fn u16(&mut self) -> Result<u16, DecodeError> {
        Ok(u16::from_le_bytes(self.array()?))
    }
    /// Next little-endian u32.
    pub fn u32(&mut self) -> Result<u32, DecodeError> {
        Ok(u32::from_le_bytes(self.array()?))
    }
    /// Next little-endian u64.
    pub fn u64(&mut self) -> Result<u64, DecodeError> {
        Ok(u64::from_le_bytes(self.array()?))
    }
    /// Next little-endian i64.
    pub fn i64(&mut self) -> Result<i64, DecodeError> {
        Ok(i64::from_le_bytes(self.array()?))
    }
}

/// Reads a little-endian u32 at `at`, if in bounds.
pub fn u32_at(buf: &[u8], at: usize) -> Option<u32> {
    let s = buf.get(at..at.checked_add(4)?)?;
    let mut a = [0u8; 4];
    a.copy_from_slice(s);
    Some(u32::from_le_bytes(a))
}

/// Reads a little-endian u64 at `at`, if in bounds.
pub fn u64_at(buf: &[u8], at: usize) -> Option<u64> {
    let s = buf.get(at..at.checked_add(8)?)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
