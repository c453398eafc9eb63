//! nats-server's consumer state file `obs/<consumer>/o.dat`: magic 22, a
//! version byte (1 or 2), then uvarints: ack floor (consumer, stream),
//! delivered (consumer, stream), the pending count, and when non-zero a
//! varint base time in seconds followed per entry by the stream seq and
//! (version 2) consumer seq above the ack floor and the base time minus
//! the delivery time; then the redelivered count and pairs of (stream seq
//! above the ack floor, count).

use nile_engine::{ConsumerState, PendingAck};

use super::varint::Cursor;

const MAGIC: u8 = 22;
const NS_PER_SEC: i64 = 1_000_000_000;

pub fn decode(buf: &[u8]) -> Result<ConsumerState, String> {
    if buf.len() < 2 || buf[0] != MAGIC || !(1..=2).contains(&buf[1]) {
        return Err("unknown magic/version".into());
    }
    let version = buf[1];
    let mut c = Cursor::new(buf, 2);
    decode_body(&mut c, version).ok_or_else(|| "truncated or corrupt".into())
}

fn decode_body(c: &mut Cursor<'_>, version: u8) -> Option<ConsumerState> {
    let mut st = ConsumerState {
        ack_floor_consumer_seq: c.uvarint()?,
        ack_floor_stream_seq: c.uvarint()?,
        delivered_consumer_seq: c.uvarint()?,
        delivered_stream_seq: c.uvarint()?,
        ..Default::default()
    };
    if version == 1 {
        // Version 1 stored delivered as the next to deliver, relative to the floor.
        st.delivered_consumer_seq += st.ack_floor_consumer_seq.saturating_sub(1);
        st.delivered_stream_seq += st.ack_floor_stream_seq.saturating_sub(1);
    }
    let pending = c.uvarint()?;
    if pending > 0 {
        let base_secs = c.varint()?;
        for _ in 0..pending {
            let sseq = c.uvarint()?.checked_add(st.ack_floor_stream_seq)?;
            let dseq = if version == 2 {
                c.uvarint()?.checked_add(st.ack_floor_consumer_seq)?
            } else {
                0
            };
            let delta = c.varint()?;
            let secs = if version == 1 {
                delta + base_secs
            } else {
                base_secs - delta
            };
            st.pending.insert(
                sseq,
                PendingAck {
                    consumer_seq: dseq,
                    timestamp_ns: secs.saturating_mul(NS_PER_SEC),
                },
            );
        }
    }
    let redelivered = c.uvarint()?;
    for _ in 0..redelivered {
        let sseq = c.uvarint()?.checked_add(st.ack_floor_stream_seq)?;
        let count = c.uvarint()?;
        if count > 0 {
            st.redelivered.insert(sseq, count);
        }
    }
    Some(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uvarint(out: &mut Vec<u8>, mut v: u64) {
        while v >= 0x80 {
            out.push((v as u8) | 0x80);
            v >>= 7;
        }
        out.push(v as u8);
    }

    fn varint(out: &mut Vec<u8>, v: i64) {
        uvarint(out, ((v << 1) ^ (v >> 63)) as u64);
    }

    /// Version 2 as nats-server lays it out: floors, delivered, pending
    /// relative to the floors with times below a base, redelivered.
    #[test]
    fn version_2_state_decodes() {
        let mut b = vec![MAGIC, 2];
        for v in [4, 10, 9, 300] {
            uvarint(&mut b, v); // ack floor (consumer, stream), delivered (consumer, stream)
        }
        uvarint(&mut b, 2);
        varint(&mut b, 1_800_000_000); // base time, seconds
        for (sseq, dseq, back) in [(2u64, 1u64, 5i64), (290, 5, 1)] {
            uvarint(&mut b, sseq);
            uvarint(&mut b, dseq);
            varint(&mut b, back);
        }
        uvarint(&mut b, 1);
        uvarint(&mut b, 2);
        uvarint(&mut b, 3);
        let st = decode(&b).expect("decodes");
        assert_eq!(
            (
                st.ack_floor_consumer_seq,
                st.ack_floor_stream_seq,
                st.delivered_consumer_seq,
                st.delivered_stream_seq
            ),
            (4, 10, 9, 300)
        );
        let p = &st.pending[&12];
        assert_eq!(
            (p.consumer_seq, p.timestamp_ns),
            (5, 1_799_999_995 * NS_PER_SEC)
        );
        assert_eq!(st.pending[&300].consumer_seq, 9);
        assert_eq!(st.redelivered.get(&12), Some(&3));
    }

    #[test]
    fn bad_magic_and_truncation_are_refused() {
        assert!(decode(&[1, 2, 0, 0, 0, 0, 0, 0]).is_err());
        assert!(decode(&[MAGIC, 2, 1, 1]).is_err());
        assert!(
            decode(&[MAGIC, 2, 0, 0, 0, 0, 1]).is_err(),
            "pending without its entries"
        );
    }
}
