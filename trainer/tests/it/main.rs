//! Integration tests of the trainer (one binary; shared helpers in `util`).

mod configs;
mod crash;
mod experiment;
mod extract;
mod models;
mod sadvae;
mod text;
mod util;
