//! C_d, the gate (SPEC section 8): the official code's two-class multinomial
//! logistic regression (L2, C = 1, L-BFGS, scikit-learn's objective) on the
//! sorted top-k probabilities of the
//! seen classifier (temperature-scaled) and of the unseen classifier, fitted
//! on validation data; its temperature and threshold are chosen on a held-out
//! share of that data.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2};
use serde::{Deserialize, Serialize};
use skel_pipeline::rng::Rng;

use crate::sadvae::Compat;

/// The gate's settings (defaults: the official search ranges).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GateConfig {
    /// Inverse L2 strength, as scikit-learn's C.
    #[serde(default = "one")]
    pub c: f64,
    /// Softmax temperatures tried for the seen classifier's logits.
    #[serde(default = "temperatures")]
    pub temperatures: Vec<f64>,
    /// Thresholds on P(unseen) tried (unseen when above).
    #[serde(default = "thresholds")]
    pub thresholds: Vec<f64>,
    /// Validation samples of each kind held out to choose T and the
    /// threshold: min(this, a sixth of them).
    #[serde(default = "held_out")]
    pub held_out: usize,
}

fn one() -> f64 {
    1.0
}
fn temperatures() -> Vec<f64> {
    (1..10).map(f64::from).collect()
}
fn thresholds() -> Vec<f64> {
    (25..75).map(|t| f64::from(t) / 100.0).collect()
}
fn held_out() -> usize {
    300
}

impl Default for GateConfig {
    fn default() -> Self {
        Self {
            c: one(),
            temperatures: temperatures(),
            thresholds: thresholds(),
            held_out: held_out(),
        }
    }
}

impl GateConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.c > 0.0 && self.c.is_finite()) {
            return Err(format!("gate.c: {} must be a positive number", self.c));
        }
        if self.temperatures.is_empty()
            || self
                .temperatures
                .iter()
                .any(|&t| !(t > 0.0 && t.is_finite()))
        {
            return Err("gate.temperatures: give at least one positive temperature".into());
        }
        if self.thresholds.is_empty() || self.thresholds.iter().any(|&t| !(0.0..1.0).contains(&t)) {
            return Err("gate.thresholds: give at least one threshold in [0, 1)".into());
        }
        Ok(())
    }
}

/// Softmax of `logits / t`, sorted in descending order, first `k` values.
pub fn top_k_softmax(logits: &[f32], t: f64, k: usize) -> Vec<f64> {
    let max = logits
        .iter()
        .fold(f64::NEG_INFINITY, |m, &v| m.max(v as f64 / t));
    let exps: Vec<f64> = logits.iter().map(|&v| (v as f64 / t - max).exp()).collect();
    let sum: f64 = exps.iter().sum();
    top_k(&exps.iter().map(|e| e / sum).collect::<Vec<_>>(), k)
}

/// The `k` largest values in descending order (zero-padded).
pub fn top_k(probs: &[f64], k: usize) -> Vec<f64> {
    let mut sorted = probs.to_vec();
    sorted.sort_by(|a, b| b.total_cmp(a));
    sorted.resize(k, 0.0);
    sorted
}

/// The gate's input for one sample: seen top-k (+) unseen top-k.
pub fn features(seen_logits: &[f32], unseen_probs: &[f64], t: f64, k: usize) -> Vec<f64> {
    let mut x = top_k_softmax(seen_logits, t, k);
    x.extend(top_k(unseen_probs, k));
    x
}

/// A fitted binary logistic regression: P(unseen | x).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    pub weights: Vec<f64>,
    pub intercept: f64,
}

impl Logistic {
    /// Fits on rows `x` with labels `unseen` (true = unseen class) the model
    /// of the official gate, scikit-learn's `LogisticRegression(C=c,
    /// solver='lbfgs', multi_class='multinomial')` on two classes (SA-DVAE
    /// `gating_train.py` lines 115-117): one weight row per class, both
    /// penalised, `c * sum log-loss + (||w_0||^2 + ||w_1||^2) / 2`,
    /// intercepts not. Only `w = w_1 - w_0` matters to the loss, and at the
    /// optimum `w_1 = -w_0 = w / 2`, so the penalty is `||w||^2 / 4`: the same
    /// model as binary logistic regression with C = 2c, which is how it is
    /// fitted (linfa's alpha is 1 / C). Golden: `tests/it/sadvae.rs`.
    pub fn fit(x: &[Vec<f64>], unseen: &[bool], c: f64) -> Result<Self, String> {
        let cols = x.first().map_or(0, Vec::len);
        let flat: Vec<f64> = x.iter().flatten().copied().collect();
        let records = Array2::from_shape_vec((x.len(), cols), flat).map_err(|e| e.to_string())?;
        let targets = Array1::from_iter(unseen.iter().copied());
        let data = Dataset::new(records, targets);
        let fitted = LogisticRegression::default()
            .alpha(1.0 / (2.0 * c))
            .max_iterations(10_000)
            .gradient_tolerance(1e-9)
            .fit(&data)
            .map_err(|e| format!("fitting the gate: {e}"))?;
        // linfa models P(its "positive" label), the label met first.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            weights: fitted.params().iter().map(|w| sign * w).collect(),
            intercept: sign * fitted.intercept(),
        })
    }

    pub fn p_unseen(&self, x: &[f64]) -> f64 {
        let z: f64 = self.intercept + x.iter().zip(&self.weights).map(|(a, w)| a * w).sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }
}

/// How a test sample's P(unseen) meets the chosen threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ThresholdRule {
    /// Unseen if P(unseen) > th: the rule the threshold was chosen with.
    #[default]
    AsChosen,
    /// The official code's inversion: chosen as "unseen if P(unseen) > th"
    /// (`gating_train.py` lines 125-126) but applied as "seen if P(seen) >
    /// th" (`gating_eval.py` line 92), so unseen if P(unseen) >= 1 - th.
    OfficialInversion,
}

/// The fitted gate with its chosen temperature and threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Gate {
    pub temperature: f64,
    pub threshold: f64,
    /// How the threshold is applied to test samples.
    #[serde(default)]
    pub rule: ThresholdRule,
    /// k: top-k probabilities of each classifier.
    pub k: usize,
    pub model: Logistic,
    /// Accuracy of the seen/unseen decision on the held-out validation samples.
    pub held_out_accuracy: f64,
    pub train_samples: usize,
    /// Indices (into the fitted samples) of the held-out ones.
    pub held_out: Vec<usize>,
}

/// The (held-out, training) samples of each temperature: one draw for all
/// (`paper`), or a fresh one for each (`official`, as `gating_train.py`
/// lines 85-92 draw it inside the temperature loop). `seen` comes shuffled.
fn hold_outs(
    mut unseen: Vec<usize>,
    mut seen: Vec<usize>,
    cfg: &GateConfig,
    rng: &mut Rng,
    compat: Compat,
) -> Vec<(Vec<usize>, Vec<usize>)> {
    let hold = |n: usize| cfg.held_out.min(n / 6).max(1);
    let (hu, hs) = (hold(unseen.len()), hold(seen.len()));
    let mut draws = Vec::with_capacity(cfg.temperatures.len());
    for i in 0..cfg.temperatures.len() {
        if i == 0 || compat == Compat::Official {
            rng.shuffle(&mut unseen);
            if i > 0 {
                rng.shuffle(&mut seen);
            }
            let held: Vec<usize> = unseen[..hu].iter().chain(&seen[..hs]).copied().collect();
            let train: Vec<usize> = unseen[hu..].iter().chain(&seen[hs..]).copied().collect();
            draws.push((held, train));
        } else {
            draws.push(draws[0].clone());
        }
    }
    draws
}

/// One validation sample's classifier outputs.
pub struct GateSample<'a> {
    pub seen_logits: &'a [f32],
    pub unseen_probs: &'a [f64],
    pub unseen: bool,
}

impl Gate {
    /// Fits the gate on validation samples: seen ones are subsampled to the
    /// number of unseen ones, a share of each is held out to choose the
    /// temperature and the threshold (best held-out accuracy, first on ties).
    /// `compat: paper` holds out one share for all temperatures;
    /// `official` draws a fresh one for each (`gating_train.py` lines 73-88)
    /// and applies the threshold with its inversion ([`ThresholdRule`]).
    pub fn fit(
        samples: &[GateSample],
        k: usize,
        cfg: &GateConfig,
        seed: u64,
        compat: Compat,
    ) -> Result<Self, String> {
        let mut rng = Rng::from_parts(&[seed, 0x6a7e]);
        let unseen: Vec<usize> = (0..samples.len()).filter(|&i| samples[i].unseen).collect();
        let mut seen: Vec<usize> = (0..samples.len()).filter(|&i| !samples[i].unseen).collect();
        if unseen.len() < 2 || seen.len() < 2 {
            return Err(format!(
                "the gate needs validation samples of both kinds: {} seen, {} unseen \
                 (the split's validation parts are too small)",
                seen.len(),
                unseen.len()
            ));
        }
        rng.shuffle(&mut seen);
        seen.truncate(unseen.len());
        let draws = hold_outs(unseen, seen, cfg, &mut rng, compat);
        let rule = match compat {
            Compat::Paper => ThresholdRule::AsChosen,
            Compat::Official => ThresholdRule::OfficialInversion,
        };

        let mut best: Option<Gate> = None;
        for (&t, (held, train)) in cfg.temperatures.iter().zip(&draws) {
            let rows = |idx: &[usize]| -> (Vec<Vec<f64>>, Vec<bool>) {
                idx.iter()
                    .map(|&i| {
                        let s = &samples[i];
                        (features(s.seen_logits, s.unseen_probs, t, k), s.unseen)
                    })
                    .unzip()
            };
            let (x, y) = rows(train);
            let model = Logistic::fit(&x, &y, cfg.c)?;
            let (hx, hy) = rows(held);
            let p: Vec<f64> = hx.iter().map(|x| model.p_unseen(x)).collect();
            for &th in &cfg.thresholds {
                let correct = p.iter().zip(&hy).filter(|(p, &u)| (**p > th) == u).count();
                let acc = correct as f64 / hy.len() as f64;
                if best.as_ref().is_none_or(|b| acc > b.held_out_accuracy) {
                    best = Some(Gate {
                        temperature: t,
                        threshold: th,
                        rule,
                        k,
                        model: model.clone(),
                        held_out_accuracy: acc,
                        train_samples: train.len(),
                        held_out: held.clone(),
                    });
                }
            }
        }
        Ok(best.expect("at least one temperature and threshold"))
    }

    /// P(unseen) of a test sample.
    pub fn p_unseen(&self, seen_logits: &[f32], unseen_probs: &[f64]) -> f64 {
        self.model.p_unseen(&features(
            seen_logits,
            unseen_probs,
            self.temperature,
            self.k,
        ))
    }

    /// Whether the sample goes to the unseen classifier.
    pub fn is_unseen(&self, seen_logits: &[f32], unseen_probs: &[f64]) -> bool {
        let p = self.p_unseen(seen_logits, unseen_probs);
        match self.rule {
            ThresholdRule::AsChosen => p > self.threshold,
            ThresholdRule::OfficialInversion => 1.0 - p <= self.threshold,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(rule: ThresholdRule) -> Gate {
        Gate {
            temperature: 1.0,
            threshold: 0.3,
            rule,
            k: 1,
            // P(unseen) = sigmoid(w x): x chosen below to give a probability.
            model: Logistic {
                weights: vec![1.0, 0.0],
                intercept: 0.0,
            },
            held_out_accuracy: 1.0,
            train_samples: 0,
            held_out: vec![],
        }
    }

    #[test]
    fn the_official_rule_inverts_the_threshold() {
        // One seen logit: top-1 softmax is 1.0; P(unseen) = sigmoid(1.0 + 0 * u).
        let p = 1.0 / (1.0 + (-1.0f64).exp()); // 0.731
        assert!((gate(ThresholdRule::AsChosen).p_unseen(&[0.0], &[0.5]) - p).abs() < 1e-12);
        // As chosen: unseen because 0.731 > 0.3.
        assert!(gate(ThresholdRule::AsChosen).is_unseen(&[0.0], &[0.5]));
        // Official: seen if P(seen) = 0.269 > 0.3: no, so unseen too.
        assert!(gate(ThresholdRule::OfficialInversion).is_unseen(&[0.0], &[0.5]));
        let mut g = gate(ThresholdRule::OfficialInversion);
        g.threshold = 0.2; // P(seen) = 0.269 > 0.2: seen.
        assert!(!g.is_unseen(&[0.0], &[0.5]));
        g.rule = ThresholdRule::AsChosen; // P(unseen) = 0.731 > 0.2: unseen.
        assert!(g.is_unseen(&[0.0], &[0.5]));
    }

    #[test]
    fn official_mode_draws_a_fresh_hold_out_for_each_temperature() {
        let cfg = GateConfig::default();
        let (unseen, seen): (Vec<usize>, Vec<usize>) = ((0..60).collect(), (60..120).collect());
        let draws =
            |compat| hold_outs(unseen.clone(), seen.clone(), &cfg, &mut Rng::new(1), compat);
        let paper = draws(Compat::Paper);
        let official = draws(Compat::Official);
        assert_eq!(paper.len(), 9);
        assert!(paper.iter().all(|d| d == &paper[0]));
        // The first draw is the same; later ones differ from it and from each other.
        assert_eq!(official[0], paper[0]);
        assert!(official[1..].iter().all(|d| d != &official[0]));
        assert_ne!(official[1], official[2]);
        for (held, train) in &official {
            assert_eq!(held.len(), 20);
            assert_eq!(held.len() + train.len(), 120);
        }
    }
}
