//! Transform-chain YAML: errors, never panics; an accepted chain builds and
//! runs on a small sample without panicking or allocating without bound.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skel_pipeline::clean::{self, Cleaned};
use skel_pipeline::frames::{Body, Sequence};
use skel_pipeline::transform::Chain;
use skel_schemas::{Dataset, Preset, TransformConfig};

/// Two actors over 12 frames, the second leaving half-way, cleaned with `raw`.
fn sample() -> Cleaned {
    let mut seq = Sequence::default();
    for t in 0..12 {
        for id in 0..2u64 {
            if id == 1 && t >= 6 {
                continue;
            }
            seq.push(Body {
                id,
                pose: std::array::from_fn(|j| {
                    let v = (j as f32 + 1.0) * 0.05 + t as f32 * 0.01 + id as f32;
                    [v, 2.0 * v, 3.0 + v]
                }),
            });
        }
        seq.end_frame();
    }
    clean::clean(&seq, Preset::Raw, Dataset::Ntu60).expect("a valid sample")
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = TransformConfig::parse(text, Path::new("fuzz/transforms.yaml")) else {
        return;
    };
    let chain = Chain::new(&config.transforms).expect("a parsed chain is a valid chain");
    let out = chain.apply(sample());
    assert_eq!(out.joints.len(), out.frames * out.actors * 75);
    assert_eq!(chain.specs(), config.transforms);
});
