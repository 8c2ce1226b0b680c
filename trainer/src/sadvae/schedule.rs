//! The loss-weight schedule (paper eq. 13, or the official code's).

use super::{Factors, SadvaeConfig, ScheduleKind, Variant};

/// The factors of step `step` (0-based) of `steps` in epoch `epoch` (0-based).
pub fn factors(
    cfg: &SadvaeConfig,
    variant: Variant,
    epoch: usize,
    step: usize,
    steps: usize,
) -> Factors {
    match cfg.schedule() {
        ScheduleKind::Paper => paper(cfg, variant, epoch, step, steps),
        ScheduleKind::Official => official(variant, epoch, step, steps),
    }
}

/// The paper's eq. 13: the KL and TC weights are 0 for the first third of
/// each epoch, then rise as 1.5 (k/n - 1/3) times their targets;
/// cross-alignment from the second epoch on.
fn paper(cfg: &SadvaeConfig, variant: Variant, epoch: usize, step: usize, steps: usize) -> Factors {
    let steps = steps.max(1);
    let ramp = if step <= steps / 3 {
        0.0
    } else {
        1.5 * (step as f64 / steps as f64 - 1.0 / 3.0)
    };
    Factors {
        beta_x: ramp * cfg.beta_x,
        beta_y: ramp * cfg.beta_y,
        cross: if epoch >= 1 { 1.0 } else { 0.0 },
        tc: if variant.has_discriminator() {
            ramp * cfg.lambda_tc
        } else {
            0.0
        },
    }
}

/// The official code's weights as its shipped scripts run it (no
/// `--beta_x`/`--beta_y`; `train.py` lines 107, 119-124, 135, 203, 215),
/// step `i` of `n` in epoch ("cycle") `epoch`, `cr = int(0.8 n)`:
/// - KL_x (semantic and style): `max(0.1 (i - 1000 n/1700) / (3000 n/1700), 0)`;
/// - KL_y, TC and the discriminator's loss: `max(0.1 (i - cr) / (3000 n/1700), 0)`,
///   from epoch 2 on (0 in epochs 0 and 1);
/// - cross-alignment: 1 for `i > cr`.
///
/// `beta_x`, `beta_y` and `lambda_tc` of the config are not used, as there.
/// Evaluated in the same order as the Python expressions, so equal to them
/// bit for bit (`tests/it/sadvae.rs`, fixture `official_schedule.csv`).
fn official(variant: Variant, epoch: usize, i: usize, n: usize) -> Factors {
    let len = n.max(1) as f64;
    let cr = (0.8 * len) as i64;
    let i = i as i64;
    let kl_x = f64::max(
        0.1 * (i as f64 - len / 1700.0 * 1000.0) / (len / 1700.0 * 3000.0),
        0.0,
    );
    let kl_y = if epoch > 1 {
        f64::max(0.1 * (i - cr) as f64 / (len / 1700.0 * 3000.0), 0.0)
    } else {
        0.0
    };
    Factors {
        beta_x: kl_x,
        beta_y: kl_y,
        cross: if i > cr { 1.0 } else { 0.0 },
        tc: if variant.has_discriminator() {
            kl_y
        } else {
            0.0
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(schedule: ScheduleKind) -> SadvaeConfig {
        SadvaeConfig {
            latent: 8,
            style_latent: 2,
            epochs: 10,
            batch_size: 4,
            lr: 1e-3,
            beta_x: 0.3,
            beta_y: 0.2,
            lambda_tc: 0.1,
            n_d: 2,
            schedule: Some(schedule),
            compat: Default::default(),
            device: Default::default(),
        }
    }

    #[test]
    fn paper_ramp_starts_after_a_third_and_reaches_its_target() {
        let c = cfg(ScheduleKind::Paper);
        let f = factors(&c, Variant::FdTc, 0, 33, 100);
        assert_eq!((f.beta_x, f.beta_y, f.tc, f.cross), (0.0, 0.0, 0.0, 0.0));
        let f = factors(&c, Variant::FdTc, 1, 99, 100);
        // 1.5 (0.99 - 1/3) = 0.985 of the target at the last step.
        assert!((f.beta_x - 0.985 * 0.3).abs() < 1e-12);
        assert!((f.tc - 0.985 * 0.1).abs() < 1e-12);
        assert_eq!(f.cross, 1.0);
        assert_eq!(factors(&c, Variant::Fd, 1, 99, 100).tc, 0.0);
    }

    #[test]
    fn official_schedule_aligns_late_and_delays_the_kl_y_and_tc_terms() {
        let c = cfg(ScheduleKind::Official);
        assert_eq!(factors(&c, Variant::FdTc, 0, 80, 100).cross, 0.0);
        assert_eq!(factors(&c, Variant::FdTc, 0, 81, 100).cross, 1.0);
        let f = factors(&c, Variant::FdTc, 1, 90, 100);
        assert_eq!((f.tc, f.beta_y), (0.0, 0.0));
        assert!(f.beta_x > 0.0);
        let f = factors(&c, Variant::FdTc, 2, 90, 100);
        assert!(f.tc > 0.0 && f.tc == f.beta_y);
        // KL_x starts at 1000/1700 of the epoch, whatever the config's betas.
        assert_eq!(factors(&c, Variant::FdTc, 0, 58, 100).beta_x, 0.0);
        assert!(factors(&c, Variant::FdTc, 0, 59, 100).beta_x > 0.0);
        assert_eq!(factors(&c, Variant::Fd, 2, 90, 100).tc, 0.0);
    }
}
