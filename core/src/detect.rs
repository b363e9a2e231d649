//! (being written)

/// Errors of this stage.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    #[error("not implemented yet")]
    Todo,
}
