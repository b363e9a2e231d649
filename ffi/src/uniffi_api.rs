//! UniFFI exports: being written.
