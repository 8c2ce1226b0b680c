//! Reading the typed YAML files (manifests, splits, transform chains) with
//! errors that name the key that is wrong, not only its line.

use std::fmt;
use std::path::Path;

use serde::de::DeserializeOwned;

/// A YAML document that does not fit its type: the key (`shards[2].rows`,
/// empty for the document itself) and the parser's error (line, column, snippet).
#[derive(Debug)]
pub struct YamlError {
    pub key: String,
    pub source: Box<serde_saphyr::Error>,
}

impl fmt::Display for YamlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.key.is_empty() {
            write!(f, "{}", self.source)
        } else {
            write!(f, "key `{}`: {}", self.key, self.source)
        }
    }
}

impl std::error::Error for YamlError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.source)
    }
}

/// Deserialises `text`, tracking the path of the key being read when it fails.
pub fn from_yaml<T: DeserializeOwned>(text: &str) -> Result<T, YamlError> {
    let mut key = String::new();
    let result = serde_saphyr::with_deserializer_from_str(text, |de| {
        serde_path_to_error::deserialize(de).map_err(|e| {
            key = key_of(e.path());
            e.into_inner()
        })
    });
    result.map_err(|source| YamlError {
        key,
        source: Box::new(source),
    })
}

/// `shards[2].rows` rather than serde_path_to_error's `shards[2].rows` with a
/// leading `.` for the root (`.` alone means the document itself).
fn key_of(path: &serde_path_to_error::Path) -> String {
    let text = path.to_string();
    if text == "." {
        String::new()
    } else {
        text
    }
}

/// A name read from data that may become part of a path: non-empty, no
/// directory part, no `..`, nothing hidden, no NUL or control characters.
pub fn is_plain_name(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with('.')
        && !name.contains(['/', '\\'])
        && !name.chars().any(char::is_control)
        && Path::new(name).is_relative()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Inner {
        rows: u64,
    }

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Outer {
        shards: Vec<Inner>,
    }

    #[test]
    fn errors_name_the_key() {
        let err = from_yaml::<Outer>("shards:\n  - rows: 1\n  - rows: many\n").unwrap_err();
        assert_eq!(err.key, "shards[1].rows", "{err}");
        assert!(err.to_string().contains("line 3"), "{err}");
        let err = from_yaml::<Outer>("shards: []\nsurprise: 1\n").unwrap_err();
        assert!(
            err.to_string().contains("unknown field `surprise`"),
            "{err}"
        );
        let err = from_yaml::<Outer>("shards:\n  - rows: 1\n    extra: 2\n").unwrap_err();
        assert_eq!(err.key, "shards[0].extra", "{err}");
    }

    #[test]
    fn plain_names() {
        for ok in ["part-00000.parquet", "S001C001P001R001A001", "a..b"] {
            assert!(is_plain_name(ok), "{ok}");
        }
        for bad in [
            "",
            "..",
            "../x",
            "/etc/passwd",
            "a/b",
            "a\\b",
            ".hidden",
            "a\0b",
            "a\nb",
        ] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }
}
