//! What a file is, from its first bytes, and whether the deployment takes
//! it.
//!
//! The allow-list: PNG, JPEG, GIF and WebP images, PDF, gzip, ZIP and the
//! ZIP-based office formats (OOXML, OpenDocument), and plain text (UTF-8,
//! declared as `text/plain`, `text/markdown`, `text/csv` or
//! `application/json`). Refused whatever is declared: HTML and SVG (active
//! content a browser would run), executables and any other binary.
//! A declared type must agree with the content; `application/octet-stream`
//! (or none) takes what the content shows.

/// Bytes looked at to decide a file's type.
pub const SNIFF_BYTES: usize = 512;

const ZIP_FAMILY: &[&str] = &[
    "application/zip",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
];
const TEXT_FAMILY: &[&str] = &["text/plain", "text/markdown", "text/csv", "application/json"];

/// The type to store for a file whose first bytes are `head` (all of it
/// when shorter than [`SNIFF_BYTES`]), uploaded as `declared`; `Err` names
/// why it is refused.
pub fn decide(declared: &str, head: &[u8]) -> Result<String, String> {
    let declared = essence(declared);
    let anything = declared.is_empty() || declared == "application/octet-stream";
    let sniffed = sniff(head)?;
    let family: &[&str] = match sniffed {
        "application/zip" => ZIP_FAMILY,
        "text/plain" => TEXT_FAMILY,
        _ => &[],
    };
    if anything {
        Ok(sniffed.to_owned())
    } else if declared == sniffed || family.contains(&declared.as_str()) {
        Ok(declared)
    } else {
        Err(format!("the content is {sniffed}, not the declared {declared}"))
    }
}

/// A media type without parameters, lower-cased: `Text/Plain; charset=x` → `text/plain`.
fn essence(media_type: &str) -> String {
    media_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

fn sniff(head: &[u8]) -> Result<&'static str, String> {
    const SIGNATURES: &[(&[u8], &str)] = &[
        (b"\x89PNG\r\n\x1a\n", "image/png"),
        (b"\xff\xd8\xff", "image/jpeg"),
        (b"GIF87a", "image/gif"),
        (b"GIF89a", "image/gif"),
        (b"%PDF-", "application/pdf"),
        (b"\x1f\x8b", "application/gzip"),
        (b"PK\x03\x04", "application/zip"),
        (b"PK\x05\x06", "application/zip"),
    ];
    const REFUSED: &[(&[u8], &str)] =
        &[(b"MZ", "a Windows executable"), (b"\x7fELF", "an ELF executable"), (b"\0asm", "a WebAssembly module")];
    if let Some((_, found)) = SIGNATURES.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Ok(found);
    }
    if head.len() >= 12 && head.starts_with(b"RIFF") && &head[8..12] == b"WEBP" {
        return Ok("image/webp");
    }
    if let Some((_, what)) = REFUSED.iter().find(|(magic, _)| head.starts_with(magic)) {
        return Err(format!("the content is {what}, which is not taken"));
    }
    if !is_text(head) {
        return Err("the content is binary of a type that is not taken".into());
    }
    let start = String::from_utf8_lossy(head).trim_start_matches('\u{feff}').trim_start().to_ascii_lowercase();
    let markup = ["<!doctype html", "<html", "<head", "<body", "<script", "<iframe", "<svg", "<?xml"];
    if markup.iter().any(|tag| start.starts_with(tag)) {
        return Err("HTML, SVG and XML documents are not taken (a browser would run them)".into());
    }
    Ok("text/plain")
}

/// UTF-8 (a character cut at the end of `head` allowed) without control
/// characters other than tab, line feed, form feed and carriage return.
fn is_text(head: &[u8]) -> bool {
    let valid = match std::str::from_utf8(head) {
        Ok(text) => text,
        // A multi-byte character cut by the sniff window.
        Err(err) if err.error_len().is_none() && head.len() - err.valid_up_to() < 4 => {
            std::str::from_utf8(&head[..err.valid_up_to()]).unwrap_or_default()
        }
        Err(_) => return false,
    };
    valid.chars().all(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r' | '\u{c}'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_formats_are_recognised_and_kept() {
        assert_eq!(decide("image/png", b"\x89PNG\r\n\x1a\n....").as_deref(), Ok("image/png"));
        assert_eq!(decide("", b"%PDF-1.7\n").as_deref(), Ok("application/pdf"));
        assert_eq!(decide("application/octet-stream", b"\xff\xd8\xff\xe0").as_deref(), Ok("image/jpeg"));
        assert_eq!(decide("image/webp", b"RIFF\x10\0\0\0WEBPVP8 ").as_deref(), Ok("image/webp"));
        let docx = ZIP_FAMILY[1];
        assert_eq!(decide(docx, b"PK\x03\x04rest").as_deref(), Ok(docx));
        assert_eq!(decide("", b"PK\x03\x04rest").as_deref(), Ok("application/zip"));
    }

    #[test]
    fn text_keeps_its_declared_kind() {
        assert_eq!(decide("text/csv; charset=utf-8", b"a,b\n1,2\n").as_deref(), Ok("text/csv"));
        assert_eq!(decide("TEXT/MARKDOWN", "# Título\n".as_bytes()).as_deref(), Ok("text/markdown"));
        assert_eq!(decide("", b"hello").as_deref(), Ok("text/plain"));
        assert_eq!(decide("text/plain", b"").as_deref(), Ok("text/plain"));
        // A character cut by the sniff window is still text.
        let mut cut = "é".repeat(300).into_bytes();
        cut.truncate(SNIFF_BYTES - 1);
        assert_eq!(decide("text/plain", &cut).as_deref(), Ok("text/plain"));
    }

    #[test]
    fn a_declared_type_must_match_the_content() {
        assert!(decide("image/png", b"%PDF-1.4").unwrap_err().contains("application/pdf"));
        assert!(decide("application/pdf", b"just text").is_err());
        assert!(decide("image/png", b"PK\x03\x04").is_err());
    }

    #[test]
    fn active_content_executables_and_unknown_binaries_are_refused() {
        for refused in [
            &b"<!DOCTYPE html><script>alert(1)</script>"[..],
            b"  <svg xmlns='http://www.w3.org/2000/svg'/>",
            b"\xef\xbb\xbf<html>",
            b"<?xml version='1.0'?>",
            b"MZ\x90\0",
            b"\x7fELF\x02\x01",
            b"\0asm\x01\0\0\0",
            b"\x00\x01\x02\x03binary",
            b"text with a \x1b escape",
        ] {
            assert!(decide("", refused).is_err(), "{refused:?}");
            assert!(decide("text/plain", refused).is_err(), "{refused:?}");
        }
    }
}
