//! Placeholder rewriting, statement classification and credential redaction
//! never panic on any SQL or driver text.

use sql_adapter_common::{StatementKind, Style, redact_credentials, reorder, rewrite};

#[test]
fn placeholders_statement_kinds_and_redaction() {
    let seeds = [
        "SELECT ?2, '?1' FROM t WHERE a = ?1 OR b = ?1",
        "INSERT INTO t (a, b) VALUES (?1, ?2) -- ?3\n",
        "UPDATE \"t?1\" SET a = $$?1$$ /* ?9 */ WHERE b = ?10",
        "connection to postgres://user:secret@db.example:5432/app failed",
        "mysql://root:pw@127.0.0.1/test?ssl-mode=REQUIRED",
    ];
    keel_fuzz::run("SQL text", &seeds, |input| {
        let sql = String::from_utf8_lossy(input);
        for style in [Style::Dollar, Style::Question] {
            let (_, order) = rewrite(&sql, style);
            // Too few values is an error for the caller, never a panic.
            let _ = reorder(&[1, 2], &order);
        }
        let _ = StatementKind::of(&sql).modifies_rows();
        let _ = redact_credentials(&sql);
    });
}
