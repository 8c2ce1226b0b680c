//! Real crashes: the `skel-trainer` binary is SIGKILLed in the middle of an
//! epoch (the third, or a later one) of `extract` and of `fit`, rerun, and
//! must end bit for bit where an uninterrupted run ends, never reading a file
//! the kill left half written.

use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use skel_trainer::sadvae::Variant;

use crate::util::{config, dataset, experiment_config, rng_lock, run_cli, tensors};

/// Runs `skel-trainer --quiet ARGS` until the checkpoint of epoch 2 appears,
/// waits a quarter of the time epoch 2 took, so that the process is inside
/// epoch 3 (or a later one on a machine whose load changes), and SIGKILLs it.
/// `checkpoint(e)` is the file whose appearance marks epoch `e` complete;
/// `finished` is written only by a run that completed.
fn kill_mid_epoch(args: &[&str], checkpoint: impl Fn(usize) -> PathBuf, finished: &Path) {
    let stderr = tempfile::NamedTempFile::new().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_skel-trainer"))
        .arg("--quiet")
        .args(args)
        .stdout(Stdio::null())
        .stderr(stderr.reopen().unwrap())
        .spawn()
        .unwrap();
    let began = Instant::now();
    let mut done: Vec<Instant> = Vec::new();
    while done.len() < 2 {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "{args:?} ended ({status}) before epoch 2 was checkpointed: {}",
                std::fs::read_to_string(stderr.path()).unwrap()
            );
        }
        if checkpoint(done.len() + 1).exists() {
            done.push(Instant::now());
        }
        assert!(
            began.elapsed() < Duration::from_secs(300),
            "{args:?}: no checkpoint of epoch 2 after 300 s"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep((done[1] - done[0]) / 4);
    child.kill().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "{args:?} was not killed by SIGKILL ({status}): {}",
        std::fs::read_to_string(stderr.path()).unwrap()
    );
    assert!(
        !finished.exists(),
        "{args:?} finished before the kill: make its epochs longer"
    );
}

fn modified(path: &Path) -> SystemTime {
    std::fs::metadata(path).unwrap().modified().unwrap()
}

/// The log's rows without the last column (samples per second, a timing).
fn log_rows(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| l.rsplit_once(',').map_or(l, |(rest, _)| rest).to_owned())
        .collect()
}

fn write_config(path: &Path, yaml: String) -> String {
    std::fs::write(path, yaml).unwrap();
    path.to_str().unwrap().to_owned()
}

fn assert_success(args: &[&str]) {
    let out = run_cli(args);
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn extract_killed_mid_epoch_resumes_to_the_uninterrupted_weights_and_features() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let (data, split) = dataset(tmp.path(), 3);
    const EPOCHS: usize = 5;
    let job = |name: &str| {
        let cfg = config(&data, &split, &tmp.path().join(name), EPOCHS);
        (
            write_config(&tmp.path().join(format!("{name}.yaml")), cfg.to_yaml()),
            cfg.run_dir,
        )
    };
    let (straight_cfg, straight) = job("straight");
    assert_success(&["extract", "--config", &straight_cfg]);

    let (killed_cfg, killed) = job("killed");
    let ckpt = |e: usize, ext: &str| killed.join(format!("checkpoints/epoch-{e:04}.{ext}"));
    kill_mid_epoch(
        &["extract", "--config", &killed_cfg],
        |e| ckpt(e, "optim.ot"),
        &killed.join("features.parquet"),
    );
    let last = (1..=EPOCHS)
        .take_while(|&e| ckpt(e, "optim.ot").exists())
        .last()
        .unwrap();
    assert!(
        (2..EPOCHS).contains(&last),
        "killed after epoch {last} of {EPOCHS} was checkpointed, not mid-epoch"
    );
    // What a kill while saving epoch last + 1 leaves: a torn temporary file,
    // or the weights renamed but not yet their optimiser state. Neither may
    // be read (this garbage would fail to load).
    std::fs::write(ckpt(last + 1, "ot.tmp"), b"torn").unwrap();
    std::fs::write(ckpt(last + 1, "ot"), b"torn").unwrap();
    let first_checkpoint = modified(&ckpt(1, "ot"));

    assert_success(&["extract", "--config", &killed_cfg, "--resume"]);
    assert_eq!(
        modified(&ckpt(1, "ot")),
        first_checkpoint,
        "the rerun trained from scratch instead of resuming"
    );
    for e in 1..=EPOCHS {
        let name = format!("checkpoints/epoch-{e:04}.ot");
        assert!(
            tensors(&straight.join(&name)) == tensors(&killed.join(&name)),
            "{name}: the resumed run's weights differ from the uninterrupted run's"
        );
    }
    let features =
        |dir: &Path| skel_trainer::features::read(&dir.join("features.parquet")).unwrap();
    assert_eq!(features(&straight), features(&killed));
    // One log line per epoch, as if never interrupted.
    assert_eq!(
        log_rows(&straight.join("train_log.csv")),
        log_rows(&killed.join("train_log.csv"))
    );
}

#[test]
fn fit_killed_mid_epoch_resumes_to_the_uninterrupted_weights() {
    let _rng = rng_lock();
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = experiment_config(tmp.path());
    cfg.variants = vec![Variant::FdTc];
    cfg.sadvae.epochs = 6;
    let exp_cfg = write_config(&tmp.path().join("exp.yaml"), cfg.to_yaml());
    let args = ["fit", "--config", &exp_cfg, "--phase", "validation"];
    // Extracts the validation phase's features, then fits straight through.
    assert_success(&args);
    let fit = cfg.out_dir.join("run0/fd_tc/fit-validation");
    let straight = tmp.path().join("straight-fit");
    std::fs::rename(&fit, &straight).unwrap();

    let ckpt = |e: usize| fit.join(format!("checkpoints/epoch-{e:04}.ot"));
    kill_mid_epoch(&args, ckpt, &fit.join("selection.yaml"));
    let last = (1..=cfg.sadvae.epochs)
        .take_while(|&e| ckpt(e).exists())
        .last()
        .unwrap();
    assert!(
        (2..cfg.sadvae.epochs).contains(&last),
        "killed after epoch {last} of {} was checkpointed, not mid-epoch",
        cfg.sadvae.epochs
    );
    std::fs::write(
        fit.join(format!("checkpoints/epoch-{:04}.ot.tmp", last + 1)),
        b"torn",
    )
    .unwrap();
    let first_checkpoint = modified(&ckpt(1));

    assert_success(&args);
    assert_eq!(
        modified(&ckpt(1)),
        first_checkpoint,
        "the rerun fitted from scratch instead of resuming"
    );
    for e in 1..=cfg.sadvae.epochs {
        let name = format!("checkpoints/epoch-{e:04}.ot");
        let (a, b) = (tensors(&straight.join(&name)), tensors(&fit.join(&name)));
        let differing: Vec<&String> = a
            .iter()
            .zip(&b)
            .filter(|(x, y)| x != y)
            .map(|(x, _)| &x.0)
            .collect();
        assert!(
            a.len() == b.len() && differing.is_empty(),
            "{name}: the resumed fit differs in {differing:?}"
        );
    }
    assert_eq!(
        std::fs::read_to_string(straight.join("selection.yaml")).unwrap(),
        std::fs::read_to_string(fit.join("selection.yaml")).unwrap()
    );
    assert_eq!(
        log_rows(&straight.join("fit_log.csv")),
        log_rows(&fit.join("fit_log.csv"))
    );
}

#[test]
fn a_resumed_log_drops_a_torn_line_and_lines_past_the_checkpoint() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("train_log.csv");
    // Epochs 1-3 logged, the kill tore the line of epoch 4; checkpoint 2 is
    // the last complete one.
    std::fs::write(&path, "epoch,loss\n1,0.9\n2,0.8\n3,0.7\n4,0.").unwrap();
    let mut log = skel_trainer::run_dir::open_epoch_log(&path, "epoch,loss", 2).unwrap();
    std::io::Write::write_all(&mut log, b"3,0.75\n").unwrap();
    drop(log);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        "epoch,loss\n1,0.9\n2,0.8\n3,0.75\n"
    );
    // A torn line within the kept epochs is dropped, not glued to the next.
    std::fs::write(&path, "epoch,loss\n1,0.").unwrap();
    skel_trainer::run_dir::open_epoch_log(&path, "epoch,loss", 1).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n");
    // A fresh run starts the log afresh.
    std::fs::write(&path, "old\n1,2\n").unwrap();
    skel_trainer::run_dir::open_epoch_log(&path, "epoch,loss", 0).unwrap();
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "epoch,loss\n");
}
