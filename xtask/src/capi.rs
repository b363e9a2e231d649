//! The C surface: cbindgen (pinned) → `include/liveproof.h`, and the C example and C tests
//! built with make and run under valgrind. (Being written.)

use anyhow::Result;

use crate::setup::Paths;
use crate::TestCounts;

/// Regenerates `include/liveproof.h`; with `check`, fails if the checked-in file differs.
pub fn gen(_paths: &Paths, _check: bool) -> Result<()> {
    Ok(())
}

/// Builds and runs the C example and C tests; returns their counts.
pub fn test(_paths: &Paths) -> Result<TestCounts> {
    Ok(TestCounts::default())
}
