//! ZSL and GZSL metrics (SPEC section 8), per sample, with per-class accuracy
//! and confusion matrices.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Accuracy of each true class and the confusion counts (true -> predicted).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Class indices (dataset's 0-based) of the rows and columns.
    pub classes: Vec<u16>,
    /// counts[i][j]: samples of classes[i] predicted as classes[j].
    pub counts: Vec<Vec<u64>>,
}

impl Confusion {
    /// Counts predictions over `classes`; a prediction outside them is an error
    /// of the caller.
    pub fn new(classes: &[u16], truth: &[u16], predicted: &[u16]) -> Self {
        let at: BTreeMap<u16, usize> = classes.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let mut counts = vec![vec![0u64; classes.len()]; classes.len()];
        for (t, p) in truth.iter().zip(predicted) {
            counts[at[t]][at[p]] += 1;
        }
        Self {
            classes: classes.to_vec(),
            counts,
        }
    }

    /// Accuracy of each class that has samples: (class, accuracy, samples).
    pub fn per_class(&self) -> Vec<(u16, f64, u64)> {
        self.classes
            .iter()
            .zip(&self.counts)
            .enumerate()
            .filter_map(|(i, (&c, row))| {
                let n: u64 = row.iter().sum();
                (n > 0).then(|| (c, row[i] as f64 / n as f64, n))
            })
            .collect()
    }
}

/// Share of equal entries.
pub fn accuracy(truth: &[u16], predicted: &[u16]) -> f64 {
    if truth.is_empty() {
        return f64::NAN;
    }
    truth.iter().zip(predicted).filter(|(t, p)| t == p).count() as f64 / truth.len() as f64
}

/// The harmonic mean of seen and unseen accuracy.
pub fn harmonic(acc_s: f64, acc_u: f64) -> f64 {
    if acc_s + acc_u == 0.0 {
        0.0
    } else {
        2.0 * acc_s * acc_u / (acc_s + acc_u)
    }
}

/// The results of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metrics {
    /// Unseen test samples classified among the unseen classes.
    pub zsl: f64,
    /// GZSL: seen test samples among all classes.
    pub acc_s: f64,
    /// GZSL: unseen test samples among all classes.
    pub acc_u: f64,
    pub h: f64,
    /// Seen test samples the gate sent to the seen classifier, and unseen
    /// ones it sent to the unseen classifier.
    pub gate_seen_recall: f64,
    pub gate_unseen_recall: f64,
    pub zsl_confusion: Confusion,
    pub gzsl_confusion: Confusion,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_counts_and_per_class_accuracy() {
        let c = Confusion::new(&[3, 7], &[3, 3, 7, 7, 7], &[3, 7, 7, 7, 3]);
        assert_eq!(c.counts, vec![vec![1, 1], vec![1, 2]]);
        assert_eq!(c.per_class(), vec![(3, 0.5, 2), (7, 2.0 / 3.0, 3)]);
        assert_eq!(accuracy(&[1, 2, 3], &[1, 2, 4]), 2.0 / 3.0);
        assert_eq!(harmonic(0.5, 0.5), 0.5);
        assert_eq!(harmonic(0.0, 0.0), 0.0);
    }
}
