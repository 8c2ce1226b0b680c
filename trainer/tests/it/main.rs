//! Integration tests of the trainer (one binary; shared helpers in `util`).

mod extract;
mod models;
mod text;
mod util;
