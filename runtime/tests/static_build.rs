//! The fully static `keel` (`scripts/build-static.sh`, musl): it needs
//! nothing on the file system, so a `FROM scratch` image of it works. The
//! test bundles the product with it and runs the bundle in an empty root
//! holding only the bundle and a state directory (chroot: no /proc, no
//! /etc, no libraries, an empty environment).
//!
//! Needs `KEEL_STATIC_KEEL` naming that binary and root (for chroot);
//! `scripts/test.sh` provides both.

mod support;

use std::path::{Path, PathBuf};

use support::*;

fn static_keel() -> PathBuf {
    std::env::var_os("KEEL_STATIC_KEEL").map(PathBuf::from).expect(
        "KEEL_STATIC_KEEL names the static keel (bash scripts/build-static.sh writes dist/keel-x86_64-linux-musl)",
    )
}

/// Whether an ELF executable asks for a dynamic loader (`PT_INTERP`) —
/// what a static executable must not do.
fn has_interpreter(elf: &[u8]) -> bool {
    assert_eq!(&elf[..4], b"\x7fELF", "not an ELF file");
    assert_eq!(elf[4], 2, "not a 64-bit ELF file");
    let u16_at = |at: usize| u16::from_le_bytes(elf[at..at + 2].try_into().unwrap()) as usize;
    let phoff = u64::from_le_bytes(elf[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    (0..phnum).any(|i| {
        let at = phoff + i * phentsize;
        u32::from_le_bytes(elf[at..at + 4].try_into().unwrap()) == 3
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_static_bundle_serves_from_an_empty_root() {
    let keel = static_keel();
    let bytes = std::fs::read(&keel).unwrap_or_else(|e| panic!("{}: {e}", keel.display()));
    assert!(!has_interpreter(&bytes), "{} is dynamically linked", keel.display());
    // The check can fail: the ordinary (glibc) build asks for a loader.
    assert!(has_interpreter(&std::fs::read(env!("CARGO_BIN_EXE_keel")).unwrap()));

    let root = TempDir::new("empty-root");
    let app = root.0.join("app");
    let output = std::process::Command::new(&keel)
        .args(["bundle", "-f", "spin.toml", "-o"])
        .arg(&app)
        .current_dir(repo_root())
        .output()
        .expect("run the static keel");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    std::fs::create_dir(root.0.join("state")).unwrap();
    let entries: Vec<String> =
        std::fs::read_dir(&root.0).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    assert_eq!(entries.len(), 2, "the root holds only the bundle and the state directory: {entries:?}");

    // Found before the environment is cleared (chroot then runs with none).
    let chroot = std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join("chroot"))
        .find(|path| path.is_file())
        .expect("chroot (coreutils) is on PATH");
    let mut command = tokio::process::Command::new(chroot);
    command
        .arg(&root.0)
        .arg("/app")
        .args(["--listen", "127.0.0.1:0", "--state-dir", "/state"])
        .env_clear()
        .env("SPIN_VARIABLE_TOKEN_SECRET", "static-test-secret-0123456789abcdef");
    let keel = Keel::serving(command, TempDir::new("unused"))
        .await
        .unwrap_or_else(|e| panic!("the static bundle did not start in an empty root: {e}"));
    let health = keel.request("GET", "/healthz", None, "").await;
    assert_eq!(health.status, 200, "{}", health.body);
    keel.signup("static@example.com").await;
    assert!(Path::new(&root.0.join("state/sqlite_db.db")).exists(), "the state went to /state");
}
