//! Manifest YAML: errors, never panics; an accepted manifest keeps its shards
//! inside `shards/` and writes back to the same manifest.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use skel_schemas::Manifest;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("fuzz/manifest.yaml");
    let Ok(manifest) = Manifest::parse(text, path) else {
        return;
    };
    let dir = Path::new("/dataset");
    for shard in &manifest.shards {
        let file = Manifest::shard_path(dir, shard);
        assert_eq!(
            file.parent(),
            Some(dir.join("shards").as_path()),
            "{file:?}"
        );
    }
    let yaml = manifest.to_yaml().expect("an accepted manifest serialises");
    let back = Manifest::parse(&yaml, path).expect("a written manifest reads back");
    assert_eq!(back, manifest);
});
