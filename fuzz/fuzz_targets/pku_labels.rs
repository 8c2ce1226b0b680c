//! PKU-MMD label files: errors, never panics; every accepted row gives a clip
//! range inside the file or none.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skel_pipeline::pku;

fuzz_target!(|data: &[u8]| {
    let Ok(rows) = pku::parse_labels(data, 51) else {
        return;
    };
    for row in &rows {
        for frames in [0, 1, 299, 300, 301, 5000] {
            if let Some((start, end)) = pku::clip_range(row, frames) {
                assert!(start < end && end <= frames, "{row:?} in {frames} frames");
                assert!(end - start <= pku::MAX_CLIP_FRAMES);
            }
        }
    }
});
