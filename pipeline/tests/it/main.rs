//! Integration tests of the pipeline crate (one binary, shared helpers in `util`).

mod bad_inputs;
mod convert;
mod distributed;
mod fuzz_found;
mod golden;
mod locks;
mod malformed;
mod resume;
mod split;
mod synthetic;
mod util;
