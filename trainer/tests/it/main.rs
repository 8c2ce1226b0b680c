//! Integration tests of the trainer (one binary; shared helpers in `util`).

mod bad_inputs;
mod config_fuzz;
mod configs;
mod crash;
mod cuda;
mod experiment;
mod extract;
mod import;
mod models;
mod numerics;
mod sadvae;
mod text;
mod util;
