//! A deterministic mutation fuzzer of the trainer's config readers (the
//! cargo-fuzz targets cannot link libtorch): every shipped config under
//! `configs/experiments/`, mutated by byte flips, truncations, dropped or
//! repeated lines, swapped keys, odd scalars and YAML tokens, must read as a
//! config that holds no NaN or infinite number and survives a write -> read
//! round trip, or be refused with a message naming the file. Nothing may panic.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;

use skel_pipeline::rng::Rng;
use skel_trainer::config::ExtractConfig;
use skel_trainer::experiment::ExperimentConfig;

/// Mutated inputs per shipped config.
const CASES_PER_CONFIG: u64 = 400;

const SCALARS: &[&str] = &[
    "-1",
    "0",
    "-0.0",
    "1e309",
    "-1e309",
    ".nan",
    ".inf",
    "-.inf",
    "NaN",
    "18446744073709551616",
    "9223372036854775807",
    "-9223372036854775808",
    "4294967296",
    "65536",
    "0x10",
    "~",
    "null",
    "[]",
    "{}",
    "''",
    "true",
    "[1, 2, [3]]",
    "{a: 1}",
    "\"\\u0000\"",
    "é",
];

const TOKENS: &[&str] = &[
    "&a ",
    "*a",
    "!!binary ",
    "!!str ",
    "<<: *a",
    "? ",
    "- ",
    ": ",
    "#",
    "|",
    ">",
    "'",
    "\"",
    "{",
    "[",
    "]",
    "}",
    ",",
    "\t",
    "---\n",
    "...\n",
    "%YAML 1.2\n",
];

fn mutate(text: &str, rng: &mut Rng) -> Vec<u8> {
    let mut bytes = text.as_bytes().to_vec();
    for _ in 0..1 + rng.below(3) {
        let lines: Vec<Vec<u8>> = bytes.split(|&b| b == b'\n').map(<[u8]>::to_vec).collect();
        let n = lines.len() as u64;
        let pick = |rng: &mut Rng| rng.below(n) as usize;
        bytes = match rng.below(8) {
            // A random byte anywhere.
            0 if !bytes.is_empty() => {
                let i = rng.below(bytes.len() as u64) as usize;
                bytes[i] = rng.below(256) as u8;
                bytes
            }
            // Cut short.
            1 => {
                bytes.truncate(rng.below(bytes.len() as u64 + 1) as usize);
                bytes
            }
            // A line dropped or repeated.
            2 | 3 => {
                let mut lines = lines;
                let i = pick(rng);
                if rng.chance(0.5) {
                    lines.remove(i);
                } else {
                    let line = lines[i].clone();
                    lines.insert(i, line);
                }
                lines.join(&b'\n')
            }
            // The keys of two `key: value` lines swapped.
            4 => {
                let mut lines = lines;
                let (i, j) = (pick(rng), pick(rng));
                let split = |l: &[u8]| l.iter().position(|&b| b == b':');
                if let (Some(a), Some(b)) = (split(&lines[i]), split(&lines[j])) {
                    let (ki, vi) = lines[i].split_at(a);
                    let (kj, vj) = lines[j].split_at(b);
                    let (li, lj) = ([kj, vi].concat(), [ki, vj].concat());
                    lines[i] = li;
                    lines[j] = lj;
                }
                lines.join(&b'\n')
            }
            // A value replaced by an odd scalar.
            5 => {
                let mut lines = lines;
                let i = pick(rng);
                if let Some(a) = lines[i].iter().position(|&b| b == b':') {
                    lines[i].truncate(a + 1);
                    lines[i].push(b' ');
                    let s = SCALARS[rng.below(SCALARS.len() as u64) as usize];
                    lines[i].extend_from_slice(s.as_bytes());
                }
                lines.join(&b'\n')
            }
            // A YAML token inserted.
            6 => {
                let i = rng.below(bytes.len() as u64 + 1) as usize;
                let t = TOKENS[rng.below(TOKENS.len() as u64) as usize];
                bytes.splice(i..i, t.bytes());
                bytes
            }
            // A line indented deeper or shallower.
            _ => {
                let mut lines = lines;
                let i = pick(rng);
                if lines[i].starts_with(b"  ") && rng.chance(0.5) {
                    lines[i].drain(..2);
                } else {
                    lines[i].splice(0..0, *b"  ");
                }
                lines.join(&b'\n')
            }
        };
    }
    bytes
}

/// Reads `path` with `read`: Ok(true) if it read and reads back equal after
/// `to_yaml`, Ok(false) if it was refused naming the file, else the problem.
fn check<T: PartialEq + std::fmt::Debug>(
    path: &Path,
    read: impl Fn(&Path) -> Result<T, String>,
    to_yaml: impl Fn(&T) -> String,
) -> Result<bool, String> {
    let outcome = catch_unwind(AssertUnwindSafe(|| match read(path) {
        Err(e) if e.contains(&path.display().to_string()) => Ok(false),
        Err(e) => Err(format!("the error does not name the file: {e}")),
        Ok(cfg) => {
            let yaml = to_yaml(&cfg);
            // Unquoted: a quoted ".inf" is a string (a name, a path).
            let non_finite = yaml.lines().any(|l| {
                let value = l.rsplit_once(": ").map_or(l, |(_, v)| v);
                let value = value.trim().trim_start_matches("- ").to_lowercase();
                matches!(value.as_str(), ".nan" | ".inf" | "-.inf" | "+.inf")
            });
            if non_finite {
                return Err(format!(
                    "a NaN or infinite number passed validation:\n{yaml}"
                ));
            }
            std::fs::write(path, yaml).unwrap();
            match read(path) {
                Ok(again) if again == cfg => Ok(true),
                Ok(again) => Err(format!("round trip changed {cfg:?} into {again:?}")),
                Err(e) => Err(format!("a config that read does not read back: {e}")),
            }
        }
    }));
    outcome.unwrap_or_else(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        Err(format!("panicked: {msg}"))
    })
}

#[test]
fn mutated_shipped_configs_read_or_are_refused_naming_the_file_never_panic() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../configs/experiments");
    let mut shipped: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    shipped.sort();
    assert!(shipped.len() >= 12, "{shipped:?}");
    let tmp = tempfile::tempdir().unwrap();
    let case = tmp.path().join("case.yaml");
    let mut problems = Vec::new();
    let (mut read_ok, mut total) = (0, 0);
    for (f, config) in shipped.iter().enumerate() {
        let text = std::fs::read_to_string(config).unwrap();
        let extract = config
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("extract-");
        for i in 0..CASES_PER_CONFIG {
            let mut rng = Rng::from_parts(&[0x00c0_ffee, f as u64, i]);
            let input = mutate(&text, &mut rng);
            std::fs::write(&case, &input).unwrap();
            let outcome = if extract {
                check(&case, ExtractConfig::read, ExtractConfig::to_yaml)
            } else {
                check(&case, ExperimentConfig::read, ExperimentConfig::to_yaml)
            };
            total += 1;
            match outcome {
                Ok(read) => read_ok += read as usize,
                Err(p) => problems.push(format!(
                    "{} case {i}: {p}\n--- input:\n{}",
                    config.display(),
                    String::from_utf8_lossy(&input)
                )),
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {total} mutated configs went wrong; the first:\n{}",
        problems.len(),
        problems
            .iter()
            .take(3)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n\n")
    );
    // The mutations must leave some configs valid, or only the parser's
    // first line of defence is exercised.
    assert!(read_ok > total / 20, "only {read_ok} of {total} read");
}
