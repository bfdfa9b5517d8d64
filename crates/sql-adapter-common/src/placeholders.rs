//! Keel's SQL placeholders (`?1`, `?2`, …) rewritten for engines that spell
//! them differently.
//!
//! ```
//! use sql_adapter_common::{Style, rewrite};
//!
//! let (sql, order) = rewrite("SELECT ?2, '?1' FROM t WHERE a = ?1 OR b = ?1", Style::Dollar);
//! assert_eq!(sql, "SELECT $2, '?1' FROM t WHERE a = $1 OR b = $1");
//! assert_eq!(order, vec![0, 1]);
//!
//! let (sql, order) = rewrite("SELECT ?2 FROM t WHERE a = ?1 OR b = ?1", Style::Question);
//! assert_eq!(sql, "SELECT ? FROM t WHERE a = ? OR b = ?");
//! assert_eq!(order, vec![1, 0, 0]);
//! ```
//!
//! Placeholders inside string literals, quoted identifiers and comments are
//! left alone.

/// How the target engine writes parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// PostgreSQL: `$1`, `$2`, … (numbered, reusable).
    Dollar,
    /// MySQL: `?` (positional: each occurrence takes the next parameter).
    Question,
}

/// The most parameters a statement may use (PostgreSQL's limit).
pub const MAX_PARAMETERS: usize = 65_535;

/// Rewrite `sql`; returns the new text and, for each parameter the engine
/// will read, the zero-based index of the Keel parameter that fills it.
pub fn rewrite(sql: &str, style: Style) -> (String, Vec<usize>) {
    let mut out = String::with_capacity(sql.len());
    let mut order = Vec::new();
    let mut highest = 0usize;
    let mut chars = sql.char_indices().peekable();
    while let Some((_, c)) = chars.next() {
        match c {
            '\'' | '"' | '`' => {
                out.push(c);
                // Copy through the closing quote; doubled quotes stay inside.
                while let Some((_, q)) = chars.next() {
                    out.push(q);
                    if q == c {
                        if chars.peek().map(|&(_, n)| n) == Some(c) {
                            out.push(chars.next().map(|(_, n)| n).unwrap_or(c));
                        } else {
                            break;
                        }
                    }
                }
            }
            '-' if chars.peek().map(|&(_, n)| n) == Some('-') => {
                out.push(c);
                for (_, n) in chars.by_ref() {
                    out.push(n);
                    if n == '\n' {
                        break;
                    }
                }
            }
            '?' if chars.peek().is_some_and(|&(_, n)| n.is_ascii_digit()) => {
                // Past the most parameters a statement can have, every
                // number reads as one more than that: the caller's check
                // refuses it (no overflow, no huge parameter list).
                let mut number = 0usize;
                while let Some(&(_, d)) = chars.peek() {
                    let Some(digit) = d.to_digit(10) else { break };
                    number = (number * 10 + digit as usize).min(MAX_PARAMETERS + 1);
                    chars.next();
                }
                let index = number.saturating_sub(1);
                match style {
                    Style::Dollar => {
                        out.push('$');
                        out.push_str(&number.to_string());
                        highest = highest.max(number);
                    }
                    Style::Question => {
                        out.push('?');
                        order.push(index);
                    }
                }
            }
            _ => out.push(c),
        }
    }
    if style == Style::Dollar {
        order = (0..highest).collect();
    }
    (out, order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_placeholder_number_is_refused_not_allocated() {
        // Found by the fuzz test: `?99999999999` made a list of 10^11
        // parameters (and overflowed in debug builds).
        for style in [Style::Dollar, Style::Question] {
            let (_, order) = rewrite("SELECT ?99999999999999999999999999", style);
            assert!(order.len() <= MAX_PARAMETERS + 1, "{}", order.len());
            let refused = crate::reorder(&[1, 2], &order).unwrap_err();
            assert!(refused.contains("but only 2 parameters were given"), "{refused}");
        }
    }

    #[test]
    fn leaves_literals_identifiers_and_comments_alone() {
        let sql = "SELECT 'it''s ?1', \"col?2\" -- ?3\n FROM t WHERE x = ?1";
        let (out, order) = rewrite(sql, Style::Question);
        assert_eq!(out, "SELECT 'it''s ?1', \"col?2\" -- ?3\n FROM t WHERE x = ?");
        assert_eq!(order, vec![0]);
    }

    #[test]
    fn numbers_above_nine() {
        let sql = (1..=11).map(|i| format!("?{i}")).collect::<Vec<_>>().join(",");
        let (out, order) = rewrite(&sql, Style::Dollar);
        assert!(out.ends_with("$10,$11"), "{out}");
        assert_eq!(order.len(), 11);
    }

    #[test]
    fn a_lone_question_mark_is_not_a_placeholder() {
        assert_eq!(rewrite("SELECT '?' || ?", Style::Dollar).0, "SELECT '?' || ?");
    }
}
