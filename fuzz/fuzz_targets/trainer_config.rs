//! The trainer's YAML configs (experiment and extract job): errors, never
//! panics; an accepted config gives valid extract jobs for every run and
//! phase, and writes back to YAML that reads again.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skel_trainer::config::{ExtractConfig, Phase};
use skel_trainer::experiment::ExperimentConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/experiment.yaml");
    if let Ok(config) = ExperimentConfig::parse(text, path) {
        for run in 0..config.splits.len() {
            for phase in [Phase::Main, Phase::Validation] {
                config
                    .extract_config(run, phase)
                    .validate()
                    .expect("an accepted experiment gives valid extract jobs");
            }
        }
        let again = serde_saphyr::to_string(&config).expect("an accepted config serialises");
        ExperimentConfig::parse(&again, path).expect("a written config reads again");
    }
    if let Ok(config) = ExtractConfig::parse(text, Path::new("fuzz/extract.yaml")) {
        let again = serde_saphyr::to_string(&config).expect("an accepted config serialises");
        ExtractConfig::parse(&again, path).expect("a written config reads again");
    }
});
