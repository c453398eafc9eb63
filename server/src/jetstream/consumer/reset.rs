//! CONSUMER.RESET (2.14): move a consumer back (or forward) to a stream
//! sequence. Everything pending is forgotten and delivery starts again at
//! that sequence, as nats-server 2.15.1.

use super::config::DeliverPolicy;
use super::{persist, Consumer};
use crate::jetstream::errors::{err, ApiError};

impl Consumer {
    /// Reset to `seq` (0: just past the ack floor). Returns the sequence
    /// delivery restarts at.
    pub fn reset(&self, seq: u64) -> Result<u64, ApiError> {
        let cfg = self.config.read().clone();
        let mut st = self.state.lock();
        let seq = if seq == 0 {
            st.ack_floor().1 + 1
        } else {
            self.check_reset(&cfg, seq)?;
            seq
        }
        .max(1);
        st.pending.clear();
        st.redeliver.clear();
        st.lps.clear();
        st.next_seq = seq;
        st.dseq = 0;
        st.sseq = seq - 1;
        st.floor = (0, seq - 1);
        st.num_redelivered = 0;
        st.last_active_ns = 0;
        st.last_ack_ns = 0;
        st.replay_prev = None;
        persist::reset_log(self, &st);
        drop(st);
        self.wake.notify_one();
        Ok(seq)
    }

    /// May the deliver policy go to `seq`? Not below where it starts.
    fn check_reset(&self, cfg: &super::config::ConsumerConfig, seq: u64) -> Result<(), ApiError> {
        match cfg.deliver_policy {
            DeliverPolicy::All => Ok(()),
            DeliverPolicy::ByStartSequence if seq < cfg.opt_start_seq.unwrap_or(0) => {
                Err(err::invalid_reset("below start seq"))
            }
            DeliverPolicy::ByStartSequence => Ok(()),
            DeliverPolicy::ByStartTime => {
                let ts = cfg
                    .opt_start_time
                    .as_deref()
                    .and_then(crate::jetstream::time::parse_rfc3339)
                    .unwrap_or(0);
                let after_last = self.store.state(false).last_seq + 1;
                let start = self.store.seq_for_time(ts).unwrap_or(after_last);
                if seq < start {
                    return Err(err::invalid_reset("below start time"));
                }
                Ok(())
            }
            _ => Err(err::invalid_reset("not allowed")),
        }
    }
}
