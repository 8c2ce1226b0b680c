//! Single-writer locks: a command that writes a folder (a converted dataset,
//! a part of a distributed conversion, an experiment, a stage) first takes an
//! exclusive advisory lock (`flock`) on a lock file in it. A second writer is
//! refused at once with the holder's PID, command and start time. The lock
//! dies with its process, so one left by a killed run never blocks. Readers
//! need none; [`holder`] tells them whether a writer is at work.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// The lock file of a folder written by one writer at a time.
pub const LOCK_FILE: &str = ".lock";

/// A refused or failed lock.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    #[error(
        "{dir} is being written by another process ({holder}); two writers would corrupt it. \
         Wait for that one to finish or stop it, or write elsewhere (a lock whose process has \
         died is released by itself)"
    )]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Held while the writer works; released when dropped or when the process ends.
#[derive(Debug)]
pub struct WriterLock {
    _file: File,
    pub path: PathBuf,
}

/// "2026-12-01T16:40:00Z" of a time.
fn utc(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

fn flock(file: &File, how: libc::c_int) -> std::io::Result<bool> {
    // SAFETY: flock on an open descriptor of ours.
    if unsafe { libc::flock(file.as_raw_fd(), how | libc::LOCK_NB) } == 0 {
        return Ok(true);
    }
    let e = std::io::Error::last_os_error();
    if e.raw_os_error() == Some(libc::EWOULDBLOCK) {
        Ok(false)
    } else {
        Err(e)
    }
}

fn describe(file: &mut File) -> String {
    let mut text = String::new();
    let _ = file.rewind().and_then(|_| file.read_to_string(&mut text));
    let text = text.trim();
    if text.is_empty() {
        "a process that has not yet said who it is".into()
    } else {
        text.replace('\n', ", ")
    }
}

impl WriterLock {
    /// Takes the lock file `name` (usually [`LOCK_FILE`]) of `dir`, creating
    /// the folder; refuses at once when another process holds it.
    pub fn acquire(dir: &Path, name: &str) -> Result<Self, LockError> {
        let path = dir.join(name);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io)?;
        if !flock(&file, libc::LOCK_EX).map_err(io)? {
            return Err(LockError::Held {
                dir: dir.to_owned(),
                holder: describe(&mut file),
            });
        }
        let command: Vec<String> = std::env::args().collect();
        let text = format!(
            "PID {}\ncommand `{}`\nstarted {}\n",
            std::process::id(),
            command.join(" "),
            utc(SystemTime::now())
        );
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(text.as_bytes()))
            .and_then(|_| file.flush())
            .map_err(io)?;
        Ok(Self { _file: file, path })
    }
}

/// The writer holding `dir`'s lock file `name`, if one does (for readers).
pub fn holder(dir: &Path, name: &str) -> Option<String> {
    let mut file = File::open(dir.join(name)).ok()?;
    match flock(&file, libc::LOCK_SH) {
        Ok(false) => Some(describe(&mut file)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_naming_the_holder_and_the_lock_dies_with_its_owner() {
        let tmp = tempfile::tempdir().unwrap();
        let first = WriterLock::acquire(tmp.path(), LOCK_FILE).unwrap();
        assert!(holder(tmp.path(), LOCK_FILE)
            .unwrap()
            .contains(&format!("PID {}", std::process::id())));
        // flock locks belong to open file descriptions: a second open is a second writer.
        let err = WriterLock::acquire(tmp.path(), LOCK_FILE).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("PID {}", std::process::id())),
            "{text}"
        );
        assert!(
            text.contains("command `") && text.contains("started 20"),
            "{text}"
        );
        drop(first);
        assert!(holder(tmp.path(), LOCK_FILE).is_none());
        WriterLock::acquire(tmp.path(), LOCK_FILE).unwrap();
    }

    #[test]
    fn times_read_as_utc() {
        assert_eq!(utc(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + std::time::Duration::from_secs(1_796_142_896);
        assert_eq!(utc(t), "2026-12-01T16:34:56Z");
    }
}
