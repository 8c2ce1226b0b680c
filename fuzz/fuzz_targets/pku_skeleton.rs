//! PKU-MMD skeleton text: errors, never panics; an accepted file is cut into
//! a clip and cleaned with every preset.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skel_pipeline::{clean, pku};
use skel_schemas::{Dataset, Preset};

fuzz_target!(|data: &[u8]| {
    let Ok(skeleton) = pku::parse_skeleton(data) else {
        return;
    };
    let frames = skeleton.num_frames();
    let seq = skeleton.to_sequence(0, frames);
    for preset in Preset::ALL {
        let _ = clean::clean(&seq, preset, Dataset::PkuV1);
    }
});
