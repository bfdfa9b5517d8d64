//! A small mutation fuzzer for Keel's parsers, run by ordinary unit tests.
//!
//! Coverage-guided fuzzing (`cargo fuzz`) needs a nightly toolchain; this
//! runs on stable inside `cargo test`: it mutates seed inputs (bit flips,
//! byte insertions and deletions, splices of another seed, repeated runs,
//! bytes that parsers treat specially) for a bounded time and calls the
//! target on each. A target must never panic on any input; when one does,
//! the test fails showing the input that did it.
//!
//! ```
//! keel_fuzz::run("split_once", &["a=b", "x"], |input| {
//!     let text = String::from_utf8_lossy(input);
//!     let _ = text.split_once('=');
//! });
//! ```
//!
//! `KEEL_FUZZ_SECONDS` sets the time per target (default 2 s); the seed of
//! the pseudo-random generator is printed, and `KEEL_FUZZ_SEED` replays it.

#![deny(missing_docs)]

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::{Duration, Instant};

/// Bytes and fragments that parsers give a meaning to.
const SPECIAL: &[&[u8]] = &[
    b"\0",
    b"\n",
    b"\r\n",
    b"\"",
    b"'",
    b"\\",
    b"[",
    b"]",
    b"{",
    b"}",
    b"{{",
    b"}}",
    b":",
    b"::",
    b"//",
    b"/",
    b"*",
    b".",
    b"..",
    b"=",
    b"?",
    b"$",
    b"$1",
    b"#",
    b"%",
    b"@",
    b",",
    b".",
    b"-",
    b"_",
    b"\xff",
    b"\xc3",
    b"\xe2\x82\xac",
    b"18446744073709551616",
    b"-1",
    b"0",
    b"65536",
    b"[[",
    b"]]",
    b"eyJ",
    b"==",
];

thread_local! {
    /// Whether this thread is running a target (its panics are expected).
    static FUZZING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Install, once per process, a panic hook that stays quiet for a thread
/// running a target and reports every other panic as before: tests run in
/// parallel, so swapping the global hook per run could silence another
/// test's failure.
fn quiet_while_fuzzing() {
    static INSTALLED: std::sync::Once = std::sync::Once::new();
    INSTALLED.call_once(|| {
        let report = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if !FUZZING.get() {
                report(info);
            }
        }));
    });
}

/// A xorshift generator: fast, reproducible from its seed, good enough to
/// pick mutations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 { 0 } else { (self.next() % n as u64) as usize }
    }
}

/// One mutation of `input`, using `seeds` for splices.
fn mutate(rng: &mut Rng, input: &mut Vec<u8>, seeds: &[&[u8]]) {
    let at = rng.below(input.len() + 1);
    match rng.below(7) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 if !input.is_empty() => {
            let end = (at + 1 + rng.below(8)).min(input.len());
            input.drain(at.min(end)..end);
        }
        2 => {
            let special = SPECIAL[rng.below(SPECIAL.len())];
            input.splice(at..at, special.iter().copied());
        }
        3 => {
            let seed = seeds[rng.below(seeds.len())];
            let from = rng.below(seed.len());
            let to = (from + 1 + rng.below(32)).min(seed.len());
            input.splice(at..at, seed[from..to].iter().copied());
        }
        4 if !input.is_empty() => {
            let from = rng.below(input.len());
            let to = (from + 1 + rng.below(16)).min(input.len());
            let run: Vec<u8> = input[from..to].to_vec();
            for _ in 0..1 + rng.below(4) {
                input.splice(at..at, run.iter().copied());
            }
        }
        5 => {
            let byte = rng.next() as u8;
            input.insert(at, byte);
        }
        _ => {
            let byte = b" \t:=/[]{}\"'.,*-_#"[rng.below(17)];
            input.insert(at, byte);
        }
    }
}

/// Call `target` on the seeds and on mutations of them for
/// `KEEL_FUZZ_SECONDS` (default 2); panics, naming the input, if `target`
/// panics on one. Returns how many inputs were tried.
pub fn run(name: &str, seeds: &[&str], target: impl FnMut(&[u8])) -> usize {
    let seconds = std::env::var("KEEL_FUZZ_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(2.0);
    run_for(name, seeds, Duration::from_secs_f64(seconds), target)
}

fn run_for(name: &str, seeds: &[&str], time: Duration, mut target: impl FnMut(&[u8])) -> usize {
    let seed = std::env::var("KEEL_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or_else(|| {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos());
        (nanos as u64) | 1
    });
    println!("fuzz {name}: KEEL_FUZZ_SEED={seed}, {time:?}");
    let seeds: Vec<&[u8]> = seeds.iter().map(|s| s.as_bytes()).collect();
    assert!(!seeds.is_empty(), "fuzz {name}: give at least one seed");
    let mut rng = Rng(seed);
    let deadline = Instant::now() + time;
    let mut tried = 0;
    quiet_while_fuzzing();
    FUZZING.set(true);
    let mut failure = None;
    while failure.is_none() && (tried < seeds.len() || Instant::now() < deadline) {
        let mut input = seeds[tried % seeds.len()].to_vec();
        if tried >= seeds.len() {
            for _ in 0..1 + rng.below(8) {
                mutate(&mut rng, &mut input, &seeds);
            }
            input.truncate(64 * 1024);
        }
        if let Err(panic) = catch_unwind(AssertUnwindSafe(|| target(&input))) {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            failure = Some((input, message));
        }
        tried += 1;
    }
    FUZZING.set(false);
    if let Some((input, message)) = failure {
        panic!(
            "fuzz {name}: the target panicked ({message}) on input {:?} (KEEL_FUZZ_SEED={seed})",
            String::from_utf8_lossy(&input)
        );
    }
    println!("fuzz {name}: {tried} inputs, no panic");
    tried
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    #[test]
    #[should_panic(expected = "the target panicked (a bracket) on input")]
    fn a_panicking_target_is_reported_with_its_input() {
        super::run_for("finds a panic", &["abc"], Duration::from_secs(10), |input| {
            assert!(!input.contains(&b'['), "a bracket")
        });
    }

    #[test]
    fn seeds_are_tried_first_and_the_time_is_bounded() {
        let mut seen = Vec::new();
        let started = std::time::Instant::now();
        let tried =
            super::run_for("seeds", &["one", "two"], Duration::from_millis(100), |input| seen.push(input.to_vec()));
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(&seen[..2], &[b"one".to_vec(), b"two".to_vec()]);
        assert_eq!(tried, seen.len());
        assert!(tried > 2, "mutations were tried too");
    }
}
