//! Helpers shared by the workspace integration tests (fixtures and model paths).
