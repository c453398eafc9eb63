//! Push-consumer flow control, paced as nats-server paces it: the bytes
//! in flight to the client (the subject it goes to, reply, headers and
//! body of each message) may grow to a window; past half of it the server asks the
//! client for a reply (`100 FlowControl Request`), past all of it delivery
//! waits. Each reply takes back what was in flight when it was asked for and
//! doubles the window (a slow start) up to its maximum.

/// The most bytes in flight (nats-server's `JsFlowControlMaxPending`).
pub const WINDOW_BYTES_MAX: u64 = 32 * 1024 * 1024;
/// The window a consumer starts with: a sixteenth of the maximum.
const WINDOW_BYTES_START: u64 = WINDOW_BYTES_MAX / 16;

#[derive(Debug)]
pub struct FlowControl {
    /// The reply subject of the request awaiting its answer.
    pub outstanding: Option<String>,
    in_flight_bytes: u64,
    /// `in_flight_bytes` when the outstanding request went out.
    asked_at_bytes: u64,
    window_bytes: u64,
    requests: u64,
}

impl Default for FlowControl {
    fn default() -> Self {
        FlowControl {
            outstanding: None,
            in_flight_bytes: 0,
            asked_at_bytes: 0,
            window_bytes: WINDOW_BYTES_START,
            requests: 0,
        }
    }
}

impl FlowControl {
    /// Delivery waits for a reply.
    pub fn stalled(&self) -> bool {
        self.in_flight_bytes > self.window_bytes
    }

    /// Counts a delivered message; returns whether to ask for a reply now.
    pub fn on_sent(&mut self, frame_bytes: u64) -> bool {
        self.in_flight_bytes += frame_bytes;
        self.outstanding.is_none() && self.in_flight_bytes > self.window_bytes / 2
    }

    /// The reply subject of a new request, now outstanding.
    pub fn ask(&mut self, stream: &str, consumer: &str) -> String {
        self.requests += 1;
        let subject = format!("$JS.FC.{stream}.{consumer}.{}", self.requests);
        self.asked_at_bytes = self.in_flight_bytes;
        self.outstanding = Some(subject.clone());
        subject
    }

    /// A client's reply on `subject`; stale or unknown replies are ignored
    /// (as nats-server). Returns whether it released anything.
    pub fn on_reply(&mut self, subject: &[u8]) -> bool {
        if self.outstanding.as_deref().map(str::as_bytes) != Some(subject) {
            return false;
        }
        self.window_bytes = (self.window_bytes * 2).min(WINDOW_BYTES_MAX);
        self.in_flight_bytes = self.in_flight_bytes.saturating_sub(self.asked_at_bytes);
        self.asked_at_bytes = 0;
        self.outstanding = None;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asks_at_half_the_window_stalls_past_it_and_doubles_on_reply() {
        let mut fc = FlowControl::default();
        assert!(!fc.on_sent(WINDOW_BYTES_START / 2));
        assert!(fc.on_sent(1), "past half the window");
        let subject = fc.ask("S", "C");
        assert!(!fc.on_sent(WINDOW_BYTES_START / 2), "one request at a time");
        assert!(fc.stalled());
        assert!(
            !fc.on_reply(b"$JS.FC.S.C.99"),
            "a stale reply changes nothing"
        );
        assert!(fc.stalled());
        assert!(fc.on_reply(subject.as_bytes()));
        assert!(!fc.stalled());
        // What was sent after the request is still in flight, against a window twice as large.
        assert_eq!(fc.in_flight_bytes, WINDOW_BYTES_START / 2);
        assert_eq!(fc.window_bytes, WINDOW_BYTES_START * 2);
    }

    #[test]
    fn the_window_stops_growing_at_its_maximum() {
        let mut fc = FlowControl::default();
        for _ in 0..10 {
            fc.on_sent(WINDOW_BYTES_MAX);
            let s = fc.ask("S", "C");
            fc.on_reply(s.as_bytes());
        }
        assert_eq!(fc.window_bytes, WINDOW_BYTES_MAX);
    }
}
