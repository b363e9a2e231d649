//! (being written)

/// Errors of this stage.
#[derive(Debug, thiserror::Error)]
pub enum QualityError {
    #[error("not implemented yet")]
    Todo,
}
