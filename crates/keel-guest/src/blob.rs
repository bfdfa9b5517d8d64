//! The `keel:infrastructure/blob-store` export, shared by every blob-store
//! adapter.
//!
//! [`bindings`] holds the generated export (the `Guest` and `GuestUpload`
//! traits); an adapter implements them and registers itself with
//! `keel_guest::blob::export_blob_store!(MyStore);`. The rules every store
//! applies the same way live here: which keys are valid ([`check_key`]) and
//! how much one call may carry ([`MAX_TRANSFER`], [`check_transfer`]).

/// Generated bindings of the `keel:infrastructure/blob-store` export.
pub mod bindings {
    ::spin_sdk::wit_bindgen::generate!({
        inline: "package keel:blob-bindings; world blob-store-export { export keel:infrastructure/blob-store@0.1.0; }",
        path: "../../wit/infrastructure",
        runtime_path: "::spin_sdk::wit_bindgen::rt",
        pub_export_macro: true,
        export_macro_name: "export_blob_store",
        default_bindings_module: "::keel_guest::blob::bindings",
    });
}

pub use bindings::export_blob_store;
pub use bindings::exports::keel::infrastructure::blob_store::{Error, Guest, GuestUpload, Upload};

/// The bytes of an upload on their way to a store, and whether it takes
/// more calls: the bookkeeping every adapter's `upload` shares. A call
/// [`begin`](Staging::begin)s (refused once the upload is closed, or while
/// another call runs), takes the parts it can store, and
/// [`end`](Staging::end)s; a failure or a finish closes the upload.
#[derive(Debug, Default)]
pub struct Staging {
    pending: Vec<u8>,
    size: u64,
    closed: bool,
    busy: bool,
}

impl Staging {
    /// Start a call that appends `chunk`.
    pub fn begin(&mut self, chunk: &[u8]) -> Result<(), Error> {
        if self.closed {
            return Err(Error::UploadClosed);
        }
        if self.busy {
            return Err(Error::InvalidInput("one call at a time on an upload".into()));
        }
        self.busy = true;
        self.size += chunk.len() as u64;
        self.pending.extend_from_slice(chunk);
        Ok(())
    }

    /// Cut `part`-byte parts off the front while more than `keep` bytes
    /// would remain after them; with `all`, the rest too (a shorter part).
    pub fn parts(&mut self, part: usize, keep: usize, all: bool) -> Vec<Vec<u8>> {
        let mut ready = Vec::new();
        while self.pending.len() >= part + keep || (all && !self.pending.is_empty()) {
            let rest = self.pending.split_off(part.min(self.pending.len()));
            ready.push(std::mem::replace(&mut self.pending, rest));
        }
        ready
    }

    /// Everything not yet taken.
    pub fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.pending)
    }

    /// Bytes written so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// End the call: `closing` (a finish or a failure) refuses every later
    /// one and drops what is pending.
    pub fn end(&mut self, closing: bool) {
        self.busy = false;
        if closing {
            self.closed = true;
            self.pending = Vec::new();
        }
    }
}

/// Most bytes one `write` or `read` call carries (8 MiB).
pub const MAX_TRANSFER: u64 = 8 << 20;
/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 512;

/// `Ok` if `key` is 1 to [`MAX_KEY_LEN`] characters of `A-Z a-z 0-9 . _ - /`
/// that neither start nor end with `/` and hold no empty, `.` or `..`
/// segment: a key every store (a SQL column, an S3 object name in a URL path)
/// takes as it is.
pub fn check_key(key: &str) -> Result<(), Error> {
    let invalid = |why: &str| Err(Error::InvalidInput(format!("blob key {key:?} {why}")));
    if key.is_empty() || key.len() > MAX_KEY_LEN {
        return invalid(&format!("must be 1 to {MAX_KEY_LEN} characters"));
    }
    if let Some(bad) = key.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))) {
        return invalid(&format!("holds {bad:?}; keys use A-Z a-z 0-9 . _ - /"));
    }
    if key.split('/').any(|segment| segment.is_empty() || segment == "." || segment == "..") {
        return invalid("has an empty, `.` or `..` segment");
    }
    Ok(())
}

/// `Ok` if one call may move `length` bytes.
pub fn check_transfer(length: u64) -> Result<(), Error> {
    if length > MAX_TRANSFER {
        Err(Error::InvalidInput(format!("one call moves at most {MAX_TRANSFER} bytes, not {length}")))
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_path_safe_everywhere() {
        for good in ["a", "documents/wsp_1/doc_2/v1-3f9c", "A.b_c-d/e", &"k".repeat(MAX_KEY_LEN)] {
            assert!(check_key(good).is_ok(), "{good}");
        }
        for bad in ["", "/a", "a/", "a//b", "a/../b", "./a", "a b", "a?b", "ä", "a%2Fb", &"k".repeat(MAX_KEY_LEN + 1)]
        {
            assert!(matches!(check_key(bad), Err(Error::InvalidInput(_))), "{bad:?}");
        }
    }

    #[test]
    fn staging_cuts_parts_and_refuses_calls_after_closing() {
        let mut staging = Staging::default();
        staging.begin(&[1; 25]).unwrap();
        assert!(matches!(staging.begin(&[2]), Err(Error::InvalidInput(_))), "a second call while one runs");
        assert_eq!(staging.parts(10, 0, false).iter().map(Vec::len).collect::<Vec<_>>(), [10, 10]);
        staging.end(false);
        staging.begin(&[3; 5]).unwrap();
        // Keep a whole part back (it may turn out to be the last).
        assert!(staging.parts(10, 1, false).is_empty());
        assert_eq!(staging.parts(10, 0, true).iter().map(Vec::len).collect::<Vec<_>>(), [10]);
        assert_eq!(staging.size(), 30);
        staging.end(true);
        assert!(matches!(staging.begin(&[]), Err(Error::UploadClosed)));
    }

    #[test]
    fn one_call_moves_at_most_eight_mebibytes() {
        assert!(check_transfer(MAX_TRANSFER).is_ok());
        assert!(matches!(check_transfer(MAX_TRANSFER + 1), Err(Error::InvalidInput(_))));
    }
}
