//! Integration tests of the pipeline crate (one binary, shared helpers in `util`).

mod golden;
mod util;
