use nile_engine::io::SimIo;
use nile_engine::ConsumerStore;
use std::path::Path;
use std::sync::Arc;

fn open(io: &SimIo) -> ConsumerStore {
    ConsumerStore::open_with_io(Arc::new(io.clone()), Path::new("/c"), "dur").unwrap()
}

#[test]
fn state_survives_reopen_and_crash() {
    let io = SimIo::new();
    let c = open(&io);
    for i in 1..=10u64 {
        c.update_delivered(i, i * 2, 1, i as i64).unwrap();
    }
    c.update_delivered(11, 4, 2, 99).unwrap();
    for i in [1u64, 3, 4] {
        c.update_acks(i, i * 2).unwrap();
    }
    c.sync().unwrap();
    c.update_acks(2, 4).unwrap(); // not synced: lost in the crash
    let synced = {
        let mut s = c.state();
        s.pending.insert(
            4,
            nile_engine::PendingAck {
                consumer_seq: 2,
                timestamp_ns: 99,
            },
        );
        s.redelivered.insert(4, 1);
        s.ack_floor_consumer_seq = 1;
        s.ack_floor_stream_seq = 3;
        s
    };
    io.crash(None);
    drop(c);
    let c = open(&io);
    let st = c.state();
    assert_eq!(st, synced);
    assert_eq!(st.delivered_consumer_seq, 11);
    assert_eq!(st.ack_floor_stream_seq, 3);
    assert_eq!(st.redelivered.get(&4), Some(&1));
}

#[test]
fn compaction_keeps_state() {
    let io = SimIo::new();
    let c = open(&io);
    for i in 1..=120_000u64 {
        c.update_delivered(i, i, 1, 0).unwrap();
        if i % 3 != 0 {
            c.update_acks(i, i).unwrap();
        }
    }
    c.sync().unwrap();
    let before = c.state();
    assert_eq!(before.pending.len(), 40_000);
    drop(c);
    let c = open(&io);
    assert_eq!(c.state(), before);
}
