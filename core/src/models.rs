//! (being written)

/// Errors of the model runner.
#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("not implemented yet")]
    Todo,
}
