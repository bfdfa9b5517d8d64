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

/// The `seq` of message id `id`, or `None` when it is not one
/// [`message_id`] gives.
pub fn message_seq(id: &str) -> Option<i64> {
    let digits = id.strip_prefix("msg_")?;
    let seq = digits.parse::<i64>().ok().filter(|seq| *seq > 0)?;
    (message_id(seq) == id).then_some(seq)
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
        assert_eq!(message_seq("msg_7"), Some(7));
        for bad in ["msg_", "msg_0", "msg_-1", "msg_07", "msg_+7", "7", "chn_7", "msg_99999999999999999999"] {
            assert_eq!(message_seq(bad), None, "{bad:?}");
        }
    }
}
