//! NTU `.skeleton` text: the parser must return an error, never panic, and
//! whatever it accepts must go through every cleaning preset (both NTU
//! variants) and the full transform chain without panicking. The x, y, z
//! parse a conversion uses must agree with the full parse: the same
//! sequence or the same error.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skel_pipeline::transform::Chain;
use skel_pipeline::{clean, ntu};
use skel_schemas::{Dataset, Joint, Preset, Reference, Temporal, TransformSpec};

fuzz_target!(|data: &[u8]| {
    let full = ntu::parse(data).map(|skeleton| ntu::to_sequence(&skeleton));
    assert_eq!(ntu::parse_sequence(data), full);
    let Ok(seq) = full else {
        return;
    };
    let chain = Chain::new(&[
        TransformSpec::Canonicalize {
            reference: Reference::Frame,
        },
        TransformSpec::Centre {
            joint: Joint::SpineMid,
            reference: Reference::Sequence,
        },
        TransformSpec::ScaleBody,
        TransformSpec::Frames {
            frames: 16,
            method: Temporal::Linear,
        },
    ])
    .expect("valid chain");
    for dataset in [Dataset::Ntu60, Dataset::Ntu120] {
        for preset in Preset::ALL {
            if let Ok(cleaned) = clean::clean(&seq, preset, dataset) {
                chain.apply(cleaned);
            }
        }
    }
});
