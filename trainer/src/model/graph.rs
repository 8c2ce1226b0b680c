//! The Kinect v2 skeleton graph and ST-GCN's spatial partition strategy.

/// Joints.
pub const V: usize = 25;
/// ST-GCN's centre joint: SpineShoulder (21, 1-based).
pub const CENTER: usize = 20;

/// Bones, 1-based (SPEC section 2).
pub use skel_schemas::BONES;

/// Hop distance between joints (usize::MAX when unreachable), max hop 1.
fn hop_distance() -> [[usize; V]; V] {
    let mut d = [[usize::MAX; V]; V];
    for (i, row) in d.iter_mut().enumerate() {
        row[i] = 0;
    }
    for &(a, b) in &BONES {
        d[a - 1][b - 1] = 1;
        d[b - 1][a - 1] = 1;
    }
    d
}

/// The three spatial-partition adjacency matrices (root, centripetal,
/// centrifugal), `3 x V x V` row-major, each column-normalised as ST-GCN's
/// `normalize_digraph` does: `A[j][i]` weights joint j's contribution to joint i.
pub fn spatial_partition() -> Vec<f32> {
    let hop = hop_distance();
    let mut adjacency = [[0f32; V]; V];
    for j in 0..V {
        for i in 0..V {
            if hop[j][i] <= 1 {
                adjacency[j][i] = 1.0;
            }
        }
    }
    // normalize_digraph: A * D^-1 with D the column sums.
    let mut norm = [[0f32; V]; V];
    for i in 0..V {
        let degree: f32 = (0..V).map(|j| adjacency[j][i]).sum();
        for j in 0..V {
            norm[j][i] = if degree > 0.0 {
                adjacency[j][i] / degree
            } else {
                0.0
            };
        }
    }
    let mut a = vec![0f32; 3 * V * V];
    for j in 0..V {
        for i in 0..V {
            match hop[j][i] {
                0 => a[j * V + i] = norm[j][i],
                1 => {
                    let (dj, di) = (hop_to_center(&hop, j), hop_to_center(&hop, i));
                    let k = match dj.cmp(&di) {
                        std::cmp::Ordering::Equal => 0,
                        std::cmp::Ordering::Greater => 1,
                        std::cmp::Ordering::Less => 2,
                    };
                    // Hop-1 root neighbours join the centripetal subset (ST-GCN: a_root + a_close).
                    let k = if k == 0 { 1 } else { k };
                    a[(k * V + j) * V + i] = norm[j][i];
                }
                _ => {}
            }
        }
    }
    a
}

/// ST-GCN measures the distance to the centre with its max-hop-1 matrix, so
/// everything beyond one hop is "infinitely" far.
fn hop_to_center(hop: &[[usize; V]; V], j: usize) -> usize {
    hop[j][CENTER]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partition_columns_sum_to_one() {
        let a = spatial_partition();
        for i in 0..V {
            let total: f32 = (0..3)
                .flat_map(|k| (0..V).map(move |j| (k, j)))
                .map(|(k, j)| a[(k * V + j) * V + i])
                .sum();
            assert!((total - 1.0).abs() < 1e-6, "column {i}: {total}");
        }
        // The root subset is the diagonal.
        assert!((0..V).all(|j| a[j * V + j] > 0.0));
    }
}
