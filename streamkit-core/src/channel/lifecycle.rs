//! PROTOCOL.md 11.4 as a table, sans-IO: what a message received for a
//! channel does, by the channel's phase. `recv.rs` asks [`verdict`] before
//! acting on anything the remote sent, so the table in the spec and the code
//! are one thing, and the tests below check every cell.

use super::state::ChanState;

/// A channel's phase at this side, as the columns of PROTOCOL.md 11.4 name
/// them (plus `Finished`: the channel is forgotten, everything is discarded).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Phase {
    Open,
    /// The remote's FIN (or CLOSE) arrived: no more bytes may follow.
    FinReceived,
    /// Our CLOSE is queued or sent (or the channel failed): waiting for the
    /// remote's CLOSE.
    Closing,
    Finished,
}

/// What arrived (the rows of PROTOCOL.md 11.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Received {
    /// Data or error-stream bytes.
    Bytes,
    Credit,
    Trailers,
    Fin,
    Close,
    /// OPEN (or HELLO) on a channel that is already open.
    Open,
}

/// What to do with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Verdict {
    /// Act on it (buffer, add credit, append, mark the end, reply/finish).
    Handle,
    /// Drop it silently.
    Discard,
    /// The remote broke the protocol: close the channel with code 2.
    Violation(&'static str),
}

impl ChanState {
    /// The channel's phase, from its close-handshake flags.
    pub(super) fn phase(&self) -> Phase {
        if self.finished {
            Phase::Finished
        } else if self.close_sent || self.fatal.is_some() {
            Phase::Closing
        } else if self.fin_recv || self.close_recv {
            Phase::FinReceived
        } else {
            Phase::Open
        }
    }
}

/// The cell of PROTOCOL.md 11.4 for `msg` received in `phase`.
pub(super) fn verdict(phase: Phase, msg: Received) -> Verdict {
    use Phase::*;
    use Received as R;
    match (phase, msg) {
        (Finished, _) => Verdict::Discard,
        (Open, R::Bytes) => Verdict::Handle,
        (FinReceived, R::Bytes) => {
            Verdict::Violation("data received after the sender half-closed the channel")
        }
        (Closing, R::Bytes) => Verdict::Discard,
        // "ignore (may add)": credit added while closing changes nothing.
        (_, R::Credit) => Verdict::Handle,
        (Open, R::Trailers) => Verdict::Handle,
        (FinReceived, R::Trailers) => {
            Verdict::Violation("TRAILERS received after the sender half-closed the channel")
        }
        (Closing, R::Trailers) => Verdict::Discard,
        (Open, R::Fin) => Verdict::Handle,
        (FinReceived | Closing, R::Fin) => Verdict::Discard,
        (_, R::Close) => Verdict::Handle,
        (_, R::Open) => Verdict::Violation("unexpected HELLO/OPEN on an open channel"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;

    #[test]
    fn phase_follows_the_close_handshake() {
        let mut st = ChanState::default();
        assert_eq!(st.phase(), Phase::Open);
        st.fin_recv = true;
        assert_eq!(st.phase(), Phase::FinReceived);
        st.fin_recv = false;
        st.close_recv = true;
        assert_eq!(st.phase(), Phase::FinReceived, "CLOSE also ends the stream");
        st.close_sent = true;
        assert_eq!(st.phase(), Phase::Closing, "our CLOSE is queued");
        let mut failed = ChanState {
            fatal: Some(Error::protocol("x")),
            ..ChanState::default()
        };
        assert_eq!(
            failed.phase(),
            Phase::Closing,
            "a failed channel is closing"
        );
        failed.finished = true;
        assert_eq!(failed.phase(), Phase::Finished);
    }

    /// Every cell of the table in PROTOCOL.md 11.4, in the table's order.
    #[test]
    fn every_cell_of_the_protocol_table() {
        use Phase::*;
        use Received as R;
        use Verdict::*;
        let v = |p, m| match verdict(p, m) {
            Violation(_) => "error",
            Handle => "handle",
            Discard => "discard",
        };
        let table: [(Received, [&str; 3]); 6] = [
            (R::Bytes, ["handle", "error", "discard"]),
            (R::Credit, ["handle", "handle", "handle"]),
            (R::Trailers, ["handle", "error", "discard"]),
            (R::Fin, ["handle", "discard", "discard"]),
            (R::Close, ["handle", "handle", "handle"]),
            (R::Open, ["error", "error", "error"]),
        ];
        for (msg, cells) in table {
            for (phase, want) in [Open, FinReceived, Closing].into_iter().zip(cells) {
                assert_eq!(v(phase, msg), want, "{msg:?} received in {phase:?}");
            }
            assert_eq!(
                v(Finished, msg),
                "discard",
                "{msg:?} after the channel finished"
            );
        }
    }
}
