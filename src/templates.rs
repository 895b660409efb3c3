//! templates (in progress).
