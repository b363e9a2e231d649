//! The bodies of LiveProof's fuzz targets, one public function per target, each taking the
//! fuzzer's bytes. `fuzz/fuzz_targets/<name>.rs` calls `<name>` under libFuzzer
//! (`cargo xtask fuzz`), and `tests/corpus.rs` replays every committed corpus file through the
//! same function as an ordinary test, so that a crash once found stays fixed.
//!
//! A target fails (panics) only when the code under test misbehaves: a panic inside it, a
//! panic caught at the C boundary (`LP_PANIC`), an error code the C contract does not list
//! for the call, an HTTP 500, or a broken invariant checked here (for example two frame paths
//! that must give bit-identical pixels). Bad input answered with a typed error is the expected
//! outcome and passes.
//!
//! Inputs are bounded so one execution stays fast: frames are at most 64×64, texts at most
//! [`MAX_TEXT`] bytes.

mod capi;
mod frame;
mod http;
mod parsers;
pub mod seeds;
mod trust;

pub use capi::capi_frame;
pub use frame::{frame, frame_accepted};
pub use http::{answers as http_answers, verifier_http};
pub use parsers::{calibration, face_template, model_manifest, policy_json};
pub use trust::{result_verifier, token_device, verify_once};

/// A target's body: the fuzzer's bytes in, a panic on a finding.
pub type Target = fn(&[u8]);

/// Every target, by the name its `fuzz/fuzz_targets/<name>.rs` and `fuzz/corpus/<name>/`
/// use, with its body.
pub const TARGETS: &[(&str, Target)] = &[
    ("frame", frame),
    ("capi_frame", capi_frame),
    ("token_device", token_device),
    ("result_verifier", result_verifier),
    ("policy_json", policy_json),
    ("calibration", calibration),
    ("face_template", face_template),
    ("model_manifest", model_manifest),
    ("verifier_http", verifier_http),
];

/// Longest text input a parser target reads, bytes (the verifier's body limit is 64 KiB; a
/// policy or a manifest is a few KiB).
pub const MAX_TEXT: usize = 64 * 1024;

/// The fixed clock of the trust targets, Unix seconds: tokens and results in the seed corpus
/// are issued at this instant, so they stay inside their lifetime whenever the target runs.
pub const NOW_UNIX_S: u64 = 1_796_000_000;

/// The SYNTHETIC server key's secret (the verifier's tests use the same): tokens in the
/// corpus are signed with it.
pub const SERVER_SECRET: [u8; 32] = [0x11; 32];

/// The SYNTHETIC device key's secret: results in the corpus are signed with it.
pub const DEVICE_SECRET: [u8; 32] = [0x22; 32];

/// The tenant of the trust targets' verifier.
pub const TENANT: &str = "acme";

/// Reads the fuzzer's bytes front to back; past the end every read gives zeros, so any input
/// decodes to some value.
pub(crate) struct Bytes<'a> {
    data: &'a [u8],
}

impl<'a> Bytes<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Self {
        Self { data }
    }

    pub(crate) fn u8(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    pub(crate) fn u16(&mut self) -> u16 {
        u16::from_le_bytes([self.u8(), self.u8()])
    }

    /// Whatever has not been read.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.data
    }
}

/// `data` as text when it is UTF-8 and at most [`MAX_TEXT`] bytes.
pub(crate) fn text(data: &[u8]) -> Option<&str> {
    if data.len() > MAX_TEXT {
        return None;
    }
    std::str::from_utf8(data).ok()
}

/// Lower-case hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
