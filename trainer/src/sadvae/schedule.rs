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
    let steps = steps.max(1);
    let ramp = if step <= steps / 3 {
        0.0
    } else {
        1.5 * (step as f64 / steps as f64 - 1.0 / 3.0)
    };
    let (cross, tc_on) = match cfg.schedule {
        ScheduleKind::Paper => (if epoch >= 1 { 1.0 } else { 0.0 }, true),
        ScheduleKind::Official => {
            let cross = if step > (0.8 * steps as f64) as usize {
                1.0
            } else {
                0.0
            };
            (cross, epoch > 1)
        }
    };
    let tc = if variant.has_discriminator() && tc_on {
        ramp * cfg.lambda_tc
    } else {
        0.0
    };
    Factors {
        beta_x: ramp * cfg.beta_x,
        beta_y: ramp * cfg.beta_y,
        cross,
        tc,
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
            schedule,
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
    fn official_schedule_aligns_late_and_delays_the_tc_term() {
        let c = cfg(ScheduleKind::Official);
        assert_eq!(factors(&c, Variant::FdTc, 0, 80, 100).cross, 0.0);
        assert_eq!(factors(&c, Variant::FdTc, 0, 81, 100).cross, 1.0);
        assert_eq!(factors(&c, Variant::FdTc, 1, 90, 100).tc, 0.0);
        assert!(factors(&c, Variant::FdTc, 2, 90, 100).tc > 0.0);
    }
}
