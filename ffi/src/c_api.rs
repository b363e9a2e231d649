//! C ABI: being written.
