//! UniFFI's binding generator, pinned by Cargo.lock. `cargo xtask gen` runs it as
//! `uniffi-bindgen generate --no-format --config uniffi-bindgen/uniffi.toml --language kotlin|swift
//! --out-dir … target/debug/libliveproof_ffi.so` (library mode: the interface is read from the
//! built library's metadata).

fn main() {
    uniffi::uniffi_bindgen_main()
}
