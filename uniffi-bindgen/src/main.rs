//! `cargo run -p uniffi-bindgen -- generate --library target/…/libliveproof_ffi.so --language kotlin --out-dir …`
//! (run by `cargo xtask gen`). The generator's version is the one pinned by Cargo.lock.

fn main() {
    uniffi::uniffi_bindgen_main()
}
