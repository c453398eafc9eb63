//! Go's `binary.Uvarint` / `binary.Varint` encodings, read from a cursor.

pub struct Cursor<'a> {
    buf: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(buf: &'a [u8], at: usize) -> Self {
        Cursor { buf, at }
    }

    /// Where the next read starts.
    pub fn position(&self) -> usize {
        self.at
    }

    pub fn uvarint(&mut self) -> Option<u64> {
        let mut v: u64 = 0;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.at)?;
            self.at += 1;
            if shift == 63 && b > 1 {
                return None;
            }
            v |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Some(v);
            }
        }
        None
    }

    /// Zig-zag signed varint.
    pub fn varint(&mut self) -> Option<i64> {
        let u = self.uvarint()?;
        let v = (u >> 1) as i64;
        Some(if u & 1 != 0 { !v } else { v })
    }
}
