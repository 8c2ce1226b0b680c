//! Split-file YAML: errors, never panics; an accepted split writes back to
//! the same split.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skel_schemas::SplitFile;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/split.yaml");
    let Ok(split) = SplitFile::parse(text, path) else {
        return;
    };
    let _ = split.check_manifest(path, "0".repeat(64).as_str());
    let yaml = split.to_yaml().expect("an accepted split serialises");
    let back = SplitFile::parse(&yaml, path).expect("a written split reads back");
    // NaN validation fractions are the one value that is not equal to itself.
    if !split.validation_fraction.is_nan() {
        assert_eq!(back, split);
    }
});
