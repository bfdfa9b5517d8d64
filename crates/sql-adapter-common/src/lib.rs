//! Engine-independent plumbing shared by Keel's SQL adapters: rewriting
//! Keel's `?N` placeholders for each engine, telling what a statement does,
//! and the life of a transaction's connection ([`Session`]). Pure code, no
//! bindings, unit-tested natively.

pub mod placeholders;
mod session;

pub use placeholders::{Style, rewrite};
pub use session::{Session, SessionError};

/// What a statement does, from its first keyword.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatementKind {
    Insert,
    /// UPDATE, DELETE, or a CTE (`WITH …`) that may be either.
    OtherDml,
    Other,
}

impl StatementKind {
    pub fn of(statement: &str) -> StatementKind {
        let keyword: String = statement
            .trim_start()
            .chars()
            .take_while(char::is_ascii_alphabetic)
            .collect::<String>()
            .to_ascii_uppercase();
        match keyword.as_str() {
            "INSERT" | "REPLACE" => StatementKind::Insert,
            "UPDATE" | "DELETE" | "WITH" => StatementKind::OtherDml,
            _ => StatementKind::Other,
        }
    }

    pub fn modifies_rows(self) -> bool {
        self != StatementKind::Other
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_statements() {
        assert_eq!(StatementKind::of("  insert into t values (1)"), StatementKind::Insert);
        assert_eq!(StatementKind::of("REPLACE INTO t VALUES (1)"), StatementKind::Insert);
        assert_eq!(StatementKind::of("update t set a = 1"), StatementKind::OtherDml);
        assert_eq!(StatementKind::of("DELETE FROM t"), StatementKind::OtherDml);
        assert_eq!(StatementKind::of("CREATE TABLE t (a)"), StatementKind::Other);
        assert!(!StatementKind::of("SELECT 1").modifies_rows());
    }
}
