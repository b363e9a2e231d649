//! (being written)

/// Errors of this stage.
#[derive(Debug, thiserror::Error)]
pub enum MeshError {
    #[error("not implemented yet")]
    Todo,
}
