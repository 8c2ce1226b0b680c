//! NumPy `.npy` bytes (published splits, text features, weights): errors,
//! never panics; an accepted array has as many values as its shape says.
#![no_main]

use libfuzzer_sys::fuzz_target;
use skel_pipeline::npy;

fuzz_target!(|data: &[u8]| {
    if let Ok(array) = npy::parse::<f32>(data, "fuzz.npy") {
        assert_eq!(array.data.len(), array.shape.iter().product::<usize>());
    }
    if let Ok(array) = npy::parse::<i64>(data, "fuzz.npy") {
        assert_eq!(array.data.len(), array.shape.iter().product::<usize>());
    }
});
