//! Opaque page cursors over a table's increasing `seq`: a letter naming the
//! list and the `seq` the next page starts below (`d123`).

/// The cursor of the page that starts below `seq`.
pub fn encode(prefix: char, seq: i64) -> String {
    format!("{prefix}{seq}")
}

/// The `seq` a cursor made by [`encode`] with `prefix` carries; `None` for
/// anything else.
pub fn decode(prefix: char, cursor: &str) -> Option<i64> {
    cursor
        .strip_prefix(prefix)
        .filter(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_others() {
        assert_eq!(decode('d', &encode('d', 42)), Some(42));
        for bad in ["", "d", "w42", "d-1", "d4x", "d99999999999999999999"] {
            assert_eq!(decode('d', bad), None, "{bad}");
        }
    }
}
