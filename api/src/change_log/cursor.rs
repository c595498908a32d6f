//! Change-feed cursors: opaque to clients, a user's epoch and change number
//! inside.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A position in one user's change feed: every change numbered up to `seq`
/// has been seen. `epoch` ties it to one life of the user's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    pub epoch: i64,
    pub seq: i64,
}

/// Where a user with no row yet is, and where every client starts: before
/// any change. Valid for any user at any time.
pub const START: Cursor = Cursor { epoch: 0, seq: 0 };

impl Cursor {
    /// Sixteen bytes, URL-safe base64: `epoch` then `seq`, big-endian.
    pub fn encode(&self) -> String {
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&self.epoch.to_be_bytes());
        bytes[8..].copy_from_slice(&self.seq.to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// `None` for anything [`Self::encode`] cannot have made.
    pub fn decode(text: &str) -> Option<Self> {
        let bytes: [u8; 16] = URL_SAFE_NO_PAD.decode(text).ok()?.try_into().ok()?;
        let (epoch, seq) = bytes.split_at(8);
        let cursor = Self {
            epoch: i64::from_be_bytes(epoch.try_into().ok()?),
            seq: i64::from_be_bytes(seq.try_into().ok()?),
        };
        (cursor.seq >= 0).then_some(cursor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_junk_is_refused() {
        let cursor = Cursor { epoch: -42, seq: 7 };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        assert_eq!(Cursor::decode(&START.encode()), Some(START));
        for junk in ["", "abc", "not base64 at all!", &"A".repeat(40)] {
            assert_eq!(Cursor::decode(junk), None, "{junk}");
        }
        let negative = Cursor { epoch: 1, seq: -1 }.encode();
        assert_eq!(Cursor::decode(&negative), None);
    }
}
