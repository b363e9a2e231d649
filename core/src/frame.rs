//! (being written)

/// Errors of this stage.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("not implemented yet")]
    Todo,
}
