//! Integration tests of the pipeline crate (one binary, shared helpers in `util`).

mod convert;
mod distributed;
mod golden;
mod malformed;
mod split;
mod synthetic;
mod util;
