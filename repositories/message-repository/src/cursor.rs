//! Paging cursors and message ids.
//!
//! A cursor is opaque to callers: the `seq` of the oldest message on a page
//! as 16 lower-case hex digits. Message ids are `msg_` + the decimal `seq`.

/// Encode `seq` as a cursor.
pub fn encode(seq: i64) -> String {
    format!("{seq:016x}")
}

/// The `seq` a cursor stands for, or `None` when it is malformed.
pub fn decode(cursor: &str) -> Option<i64> {
    if cursor.len() != 16 || !cursor.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return None;
    }
    i64::from_str_radix(cursor, 16).ok().filter(|seq| *seq > 0)
}

/// The public id of message `seq`.
pub fn message_id(seq: i64) -> String {
    format!("msg_{seq}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip() {
        for seq in [1, 42, i64::MAX] {
            assert_eq!(decode(&encode(seq)), Some(seq));
        }
    }

    #[test]
    fn malformed_cursors_are_rejected() {
        for bad in ["", "zz", "000000000000002A", "0000000000000000", "ffffffffffffffff", "00000000000000001"] {
            assert_eq!(decode(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn message_ids_carry_the_sequence() {
        assert_eq!(message_id(7), "msg_7");
    }
}
