//! A corpus of damaged raw files: each is quarantined with its line and a
//! message that says what is wrong, and everything else still converts.

use std::path::Path;

use skel_schemas::{Manifest, MANIFEST_FILE};

use crate::util::{read_all, run_cli, samples};

/// A damage: file name, how to damage the genuine sample's lines, and the
/// expected quarantine line and message fragment.
struct Damage {
    name: &'static str,
    apply: fn(&mut Vec<String>),
    line: Option<u64>,
    message: &'static str,
}

fn set_field(lines: &mut [String], line: usize, field: usize, value: &str) {
    let mut fields: Vec<&str> = lines[line - 1].split(' ').collect();
    fields[field] = value;
    lines[line - 1] = fields.join(" ");
}

fn corpus() -> Vec<Damage> {
    vec![
        Damage { name: "S001C001P002R001A001", apply: |l| l.clear(), line: Some(1), message: "the file is empty" },
        Damage {
            name: "S001C001P002R001A002",
            apply: |l| l.truncate(1000),
            line: Some(1001),
            message: "the file ends here but joint 17 of body 1 of 1 in frame 36 of 103 was expected (truncated file?)",
        },
        Damage {
            name: "S001C001P002R001A003",
            apply: |l| l[3] = "24".into(),
            line: Some(4),
            message: "expected 25 joints per body, got 24",
        },
        Damage {
            name: "S001C001P002R001A004",
            apply: |l| {
                let cut = l[9].rsplit_once(' ').unwrap().0.to_owned();
                l[9] = cut;
            },
            line: Some(10),
            message: "expected 12 joint fields, got 11",
        },
        Damage {
            name: "S001C001P002R001A005",
            apply: |l| l[10].push_str(" 7"),
            line: Some(11),
            message: "expected 12 joint fields, got 13",
        },
        Damage {
            name: "S001C001P002R001A006",
            apply: |l| set_field(l, 12, 0, "abc"),
            line: Some(12),
            message: "x is not a number: \"abc\"",
        },
        Damage {
            name: "S001C001P002R001A007",
            apply: |l| set_field(l, 13, 1, "NaN"),
            line: Some(13),
            message: "y is not finite: \"NaN\"",
        },
        Damage {
            name: "S001C001P002R001A008",
            apply: |l| set_field(l, 14, 2, "-inf"),
            line: Some(14),
            message: "z is not finite: \"-inf\"",
        },
        Damage {
            name: "S001C001P002R001A009",
            apply: |l| {
                let cut = l[2].rsplit_once(' ').unwrap().0.to_owned();
                l[2] = cut;
            },
            line: Some(3),
            message: "expected 10 body fields, got 9",
        },
        Damage {
            name: "S001C001P002R001A010",
            apply: |l| set_field(l, 3, 0, "7.2057594e16"),
            line: Some(3),
            message: "bodyID is not a non-negative integer",
        },
        Damage {
            name: "S001C001P002R001A011",
            apply: |l| l[0] = "one hundred".into(),
            line: Some(1),
            message: "expected 1 frame count fields, got 2",
        },
        Damage {
            name: "S001C001P002R001A012",
            apply: |l| l.push("0.1 0.2 0.3".into()),
            line: Some(2886),
            message: "unexpected data after the end of the 103 frames the header declares",
        },
        Damage {
            name: "S001C001P002R001A013",
            apply: |l| l[1] = "-1".into(),
            line: Some(2),
            message: "body count is not a non-negative integer: \"-1\"",
        },
        Damage {
            name: "S001C001P002R001A014",
            apply: |l| l[0] = "104".into(),
            line: Some(2886),
            message: "the body count of frame 104 of 104 was expected",
        },
        Damage {
            name: "S001C001P002R001A015",
            apply: |l| set_field(l, 20, 11, "2.5"),
            line: Some(20),
            message: "trackingState is not a non-negative integer",
        },
        Damage {
            name: "S001C001P002R001A016",
            apply: |l| {
                // Every frame without bodies: parses, but nothing to keep.
                *l = std::iter::once("3".to_owned()).chain(["0", "0", "0"].map(String::from)).collect();
            },
            line: None,
            message: "all 3 frames have 0 bodies",
        },
    ]
}

fn write_raw(dir: &Path) {
    let genuine =
        std::fs::read_to_string(samples().join("ntu/S001C001P001R001A001.skeleton")).unwrap();
    let lines: Vec<String> = genuine.lines().map(str::to_owned).collect();
    for damage in corpus() {
        let mut damaged = lines.clone();
        (damage.apply)(&mut damaged);
        let text = if damaged.is_empty() {
            String::new()
        } else {
            damaged.join("\n") + "\n"
        };
        std::fs::write(dir.join(format!("{}.skeleton", damage.name)), text).unwrap();
    }
    // Good files beside the damaged ones.
    for entry in std::fs::read_dir(samples().join("ntu")).unwrap() {
        let path = entry.unwrap().path();
        std::fs::copy(&path, dir.join(path.file_name().unwrap())).unwrap();
    }
    // Damaged names and an unreadable file.
    std::fs::write(dir.join("hello.skeleton"), "1\n0\n").unwrap();
    std::fs::write(dir.join("S018C001P001R001A001.skeleton"), &genuine).unwrap();
    std::fs::write(dir.join("notes.txt"), "not skeleton data").unwrap();
    std::os::unix::fs::symlink(dir.join("gone"), dir.join("S001C001P003R001A001.skeleton"))
        .unwrap();
    // Binary garbage.
    std::fs::write(
        dir.join("S001C001P003R001A002.skeleton"),
        [0xff, 0xfe, 0x00, 0x13, 0x37],
    )
    .unwrap();
}

#[test]
fn damaged_files_are_quarantined_with_line_and_reason() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let out = tmp.path().join("out");
    std::fs::create_dir(&raw).unwrap();
    write_raw(&raw);

    let (code, stdout, stderr) = run_cli(&[
        "convert",
        "--dataset",
        "ntu60",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2, "{stdout}{stderr}");
    assert!(stderr.contains("21 quarantined"), "{stderr}");

    let manifest = Manifest::read(&out.join(MANIFEST_FILE)).unwrap();
    let find = |file: &str| {
        manifest
            .quarantine
            .iter()
            .find(|q| q.file == file)
            .unwrap_or_else(|| panic!("{file} not quarantined: {:#?}", manifest.quarantine))
    };
    for damage in corpus() {
        let q = find(&format!("{}.skeleton", damage.name));
        assert_eq!(q.line, damage.line, "{}: {}", damage.name, q.reason);
        assert!(
            q.reason.contains(damage.message),
            "{}: {:?} lacks {:?}",
            damage.name,
            q.reason,
            damage.message
        );
        if let Some(line) = damage.line {
            assert!(
                q.reason.starts_with(&format!("line {line}: ")),
                "{}",
                q.reason
            );
        }
    }
    assert!(find("hello.skeleton")
        .reason
        .contains("does not match SsssCcccPpppRrrrAaaa.skeleton"));
    assert!(find("S018C001P001R001A001.skeleton")
        .reason
        .contains("convert with --dataset ntu120"));
    assert!(find("notes.txt")
        .reason
        .contains("not an NTU skeleton file"));
    assert!(find("S001C001P003R001A001.skeleton")
        .reason
        .contains("cannot read the file"));
    assert!(find("S001C001P003R001A002.skeleton")
        .reason
        .starts_with("line 1: "));
    assert_eq!(manifest.counts.quarantined, 21);

    // Everything else converted, and nothing partial was left behind.
    let rows = read_all(&out);
    assert_eq!(rows.len(), 3);
    let leftovers: Vec<_> = std::fs::read_dir(out.join("shards"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| !n.starts_with("part-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}
