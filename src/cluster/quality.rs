//! How good a clustering is: the silhouette (−1..1, higher is better: rows
//! are closer to their own cluster than to the next one) and the
//! Davies–Bouldin index (≥ 0, lower is better: clusters are tight and far
//! apart).
//!
//! The silhouette needs every pairwise distance, so it runs on a seeded
//! sample (20,000 rows: 400 million distances, well under a second on two
//! cores). Rows are sorted by cluster and stored column by column, so the
//! distances from one row to a whole cluster are a straight SIMD loop with
//! no n × n matrix in memory.

use ndarray::{Array2, ArrayView2};
use rayon::prelude::*;

use super::sample::{self, Stream};

/// Mean silhouette over a seeded sample of at most `max_rows` labelled rows
/// (`None` labels, noise or dropped rows, are left out). `None` when the
/// sample holds fewer than two clusters.
pub fn silhouette(
    data: ArrayView2<f64>,
    labels: &[Option<usize>],
    max_rows: usize,
    seed: u64,
) -> Option<f64> {
    let labelled: Vec<usize> = (0..labels.len()).filter(|&i| labels[i].is_some()).collect();
    let rows = sample::subset(&labelled, max_rows, seed, Stream::Silhouette);
    let picked = data.select(ndarray::Axis(0), &rows);
    let picked_labels: Vec<usize> = rows.iter().map(|&i| labels[i].unwrap()).collect();
    silhouette_exact(picked.view(), &picked_labels)
}

/// The exact mean silhouette of every row of `data`, as scikit-learn defines
/// it (a row alone in its cluster scores 0). `None` with fewer than two
/// non-empty clusters.
pub fn silhouette_exact(data: ArrayView2<f64>, labels: &[usize]) -> Option<f64> {
    let (m, d) = data.dim();
    assert_eq!(labels.len(), m);
    let k = labels.iter().max().map_or(0, |&l| l + 1);
    let mut order: Vec<usize> = (0..m).collect();
    order.sort_by_key(|&i| labels[i]);
    // Per cluster, its range in `order`.
    let mut ranges = vec![(0usize, 0usize); k];
    let mut start = 0;
    for (c, range) in ranges.iter_mut().enumerate() {
        let mut end = start;
        while end < m && labels[order[end]] == c {
            end += 1;
        }
        *range = (start, end);
        start = end;
    }
    let ranges: Vec<(usize, usize, usize)> = ranges
        .into_iter()
        .enumerate()
        .filter(|(_, (s, e))| e > s)
        .map(|(c, (s, e))| (c, s, e))
        .collect();
    if ranges.len() < 2 {
        return None;
    }
    // Column-major copy of the rows in cluster order, centred (smaller
    // norms, smaller rounding in the expanded distances), and their |y|².
    let mean = data.mean_axis(ndarray::Axis(0)).expect("at least one row");
    let mut columns = vec![0.0; m * d];
    let mut norms = vec![0.0; m];
    for (j, &i) in order.iter().enumerate() {
        for e in 0..d {
            let v = data[[i, e]] - mean[e];
            columns[e * m + j] = v;
            norms[j] += v * v;
        }
    }
    let simd = has_avx2_fma();
    let scores: Vec<f64> = (0..m)
        .into_par_iter()
        .map_init(
            || vec![0.0; ranges.len()],
            |sums, i| {
                let x: Vec<f64> = data.row(i).iter().zip(&mean).map(|(v, c)| v - c).collect();
                distance_sums(&columns, &norms, &x, &ranges, sums, simd);
                let own = labels[i];
                let mut a = 0.0;
                let mut b = f64::INFINITY;
                for (slot, &(c, s, e)) in ranges.iter().enumerate() {
                    let size = (e - s) as f64;
                    if c == own {
                        if e - s == 1 {
                            return 0.0;
                        }
                        a = sums[slot] / (size - 1.0);
                    } else {
                        b = b.min(sums[slot] / size);
                    }
                }
                let denominator = a.max(b);
                if denominator > 0.0 {
                    (b - a) / denominator
                } else {
                    0.0
                }
            },
        )
        .collect();
    Some(scores.iter().sum::<f64>() / m as f64)
}

/// Davies–Bouldin index over the labelled rows: for each cluster, the worst
/// ratio (spread_i + spread_j) / distance(centre_i, centre_j), averaged.
/// Spreads are mean Euclidean distances to the centre. `None` with fewer than
/// two non-empty clusters.
pub fn davies_bouldin(data: ArrayView2<f64>, labels: &[Option<usize>]) -> Option<f64> {
    let k = labels.iter().flatten().max().map_or(0, |&l| l + 1);
    let (centres, counts) = cluster_means(data, labels, k);
    let d = data.ncols();
    let present: Vec<usize> = (0..k).filter(|&c| counts[c] > 0).collect();
    if present.len() < 2 {
        return None;
    }
    let spreads = per_cluster_sum(data, labels, k, |x, c| {
        x.iter()
            .zip(centres.row(c))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
            .sqrt()
    });
    let spread: Vec<f64> = (0..k)
        .map(|c| {
            if counts[c] > 0 {
                spreads[c] / counts[c] as f64
            } else {
                0.0
            }
        })
        .collect();
    let mut total = 0.0;
    for &i in &present {
        let mut worst: f64 = 0.0;
        for &j in &present {
            if i == j {
                continue;
            }
            let gap = (0..d)
                .map(|e| (centres[[i, e]] - centres[[j, e]]).powi(2))
                .sum::<f64>()
                .sqrt();
            // Two clusters on the same centre: scikit-learn counts the pair as 0.
            if gap > 0.0 {
                worst = worst.max((spread[i] + spread[j]) / gap);
            }
        }
        total += worst;
    }
    Some(total / present.len() as f64)
}

/// Per cluster, the mean of its rows (`k × d`) and how many rows it has.
pub(crate) fn cluster_means(
    data: ArrayView2<f64>,
    labels: &[Option<usize>],
    k: usize,
) -> (Array2<f64>, Vec<usize>) {
    let d = data.ncols();
    let mut counts = vec![0usize; k];
    for &c in labels.iter().flatten() {
        counts[c] += 1;
    }
    let mut means = Array2::zeros((k, d));
    for e in 0..d {
        let sums = per_cluster_sum(data, labels, k, |x, _| x[e]);
        for c in 0..k {
            if counts[c] > 0 {
                means[[c, e]] = sums[c] / counts[c] as f64;
            }
        }
    }
    (means, counts)
}

/// Sum of the sums of squared distances of each labelled row to its
/// cluster's mean: the inertia of any labelling.
pub(crate) fn within_sum_of_squares(
    data: ArrayView2<f64>,
    labels: &[Option<usize>],
    k: usize,
) -> f64 {
    let (means, _) = cluster_means(data, labels, k);
    per_cluster_sum(data, labels, k, |x, c| {
        x.iter()
            .zip(means.row(c))
            .map(|(a, b)| (a - b) * (a - b))
            .sum::<f64>()
    })
    .iter()
    .sum()
}

/// Per cluster, the sum of `f(row, cluster)` over its rows; in fixed-size
/// chunks so the result does not depend on the number of threads.
fn per_cluster_sum(
    data: ArrayView2<f64>,
    labels: &[Option<usize>],
    k: usize,
    f: impl Fn(&[f64], usize) -> f64 + Sync,
) -> Vec<f64> {
    const CHUNK: usize = 8192;
    let data = data.as_standard_layout();
    let d = data.ncols();
    let rows = data.as_slice().expect("standard layout");
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK * d)
        .zip(labels.par_chunks(CHUNK))
        .map(|(rows, labels)| {
            let mut sums = vec![0.0; k];
            for (x, label) in rows.chunks_exact(d).zip(labels) {
                if let Some(c) = *label {
                    sums[c] += f(x, c);
                }
            }
            sums
        })
        .collect();
    partial.iter().fold(vec![0.0; k], |mut acc, p| {
        acc.iter_mut().zip(p).for_each(|(a, b)| *a += b);
        acc
    })
}

use super::k_means::has_avx2_fma;

/// For one row `x`, the sum of its distances to the rows of each cluster.
/// Distances are expanded, `sqrt(|x|² + |y|² − 2x·y)`, so each feature of
/// each pair costs one multiply-add (the lost precision is around 1e-14 on
/// scaled data, far below what a silhouette can show).
fn distance_sums(
    columns: &[f64],
    norms: &[f64],
    x: &[f64],
    ranges: &[(usize, usize, usize)],
    out: &mut [f64],
    simd: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_avx2_fma`, which asked the CPU.
        unsafe { distance_sums_avx2_fma(columns, norms, x, ranges, out) };
        return;
    }
    let _ = simd;
    distance_sums_kernel::<false>(columns, norms, x, ranges, out)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn distance_sums_avx2_fma(
    columns: &[f64],
    norms: &[f64],
    x: &[f64],
    ranges: &[(usize, usize, usize)],
    out: &mut [f64],
) {
    distance_sums_kernel::<true>(columns, norms, x, ranges, out)
}

/// `FMA` uses fused multiply-adds, only where the CPU has them.
#[inline(always)]
fn distance_sums_kernel<const FMA: bool>(
    columns: &[f64],
    norms: &[f64],
    x: &[f64],
    ranges: &[(usize, usize, usize)],
    out: &mut [f64],
) {
    const TILE: usize = 64;
    const LANES: usize = 8;
    let m = norms.len();
    let x_norm: f64 = x.iter().map(|v| v * v).sum();
    let minus_2x: Vec<f64> = x.iter().map(|v| -2.0 * v).collect();
    let distance = |squared: f64| squared.max(0.0).sqrt();
    for (slot, &(_, start, end)) in ranges.iter().enumerate() {
        let mut lanes = [0.0f64; LANES];
        let mut j = start;
        while j + TILE <= end {
            let mut acc: [f64; TILE] = norms[j..j + TILE].try_into().unwrap();
            for (e, &w) in minus_2x.iter().enumerate() {
                let col: &[f64; TILE] = columns[e * m + j..e * m + j + TILE].try_into().unwrap();
                for t in 0..TILE {
                    acc[t] = if FMA {
                        col[t].mul_add(w, acc[t])
                    } else {
                        col[t] * w + acc[t]
                    };
                }
            }
            for part in acc.chunks_exact(LANES) {
                for l in 0..LANES {
                    lanes[l] += distance(part[l] + x_norm);
                }
            }
            j += TILE;
        }
        let mut total: f64 = lanes.iter().sum();
        for j in j..end {
            let mut s = norms[j] + x_norm;
            for (e, &w) in minus_2x.iter().enumerate() {
                s += columns[e * m + j] * w;
            }
            total += distance(s);
        }
        out[slot] = total;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    fn brute_force_silhouette(data: &Array2<f64>, labels: &[usize]) -> f64 {
        let m = data.nrows();
        let dist = |i: usize, j: usize| {
            data.row(i)
                .iter()
                .zip(data.row(j))
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
                .sqrt()
        };
        let k = labels.iter().max().unwrap() + 1;
        let mut total = 0.0;
        for i in 0..m {
            let mut sums = vec![0.0; k];
            let mut sizes = vec![0.0; k];
            for j in 0..m {
                sums[labels[j]] += dist(i, j);
                sizes[labels[j]] += 1.0;
            }
            let own = labels[i];
            if sizes[own] == 1.0 {
                continue;
            }
            let a = sums[own] / (sizes[own] - 1.0);
            let b = (0..k)
                .filter(|&c| c != own && sizes[c] > 0.0)
                .map(|c| sums[c] / sizes[c])
                .fold(f64::INFINITY, f64::min);
            total += (b - a) / a.max(b);
        }
        total / m as f64
    }

    #[test]
    fn silhouette_matches_brute_force() {
        // 300 rows in 3 dimensions: long enough to use full tiles and remainders.
        let m = 300;
        let data = Array2::from_shape_fn((m, 3), |(i, e)| {
            ((i * 31 + e * 17) % 23) as f64 / 7.0 + (i % 3) as f64 * 2.0
        });
        let labels: Vec<usize> = (0..m).map(|i| (i * 7) % 4).collect();
        let ours = silhouette_exact(data.view(), &labels).unwrap();
        let expected = brute_force_silhouette(&data, &labels);
        // The expanded distances put a row ~1e-8 from itself instead of 0.
        assert!((ours - expected).abs() < 1e-6, "{ours} vs {expected}");
    }

    #[test]
    fn silhouette_hand_example() {
        // Two tight pairs far apart: a = 1, b ≈ 10 for every row.
        let data = array![[0.0, 0.0], [1.0, 0.0], [10.0, 0.0], [11.0, 0.0]];
        let s = silhouette_exact(data.view(), &[0, 0, 1, 1]).unwrap();
        // Row 0: a = 1, b = (10 + 11) / 2 = 10.5 → 0.904762; row 1: b = 9.5 → 0.894737.
        let expected = ((1.0 - 1.0 / 10.5) + (1.0 - 1.0 / 9.5)) / 2.0;
        assert!((s - expected).abs() < 1e-6);
        assert_eq!(silhouette_exact(data.view(), &[0, 0, 0, 0]), None);
    }

    #[test]
    fn sampled_silhouette_skips_noise() {
        let data = array![[0.0], [0.1], [5.0], [5.1], [100.0]];
        let labels = [Some(0), Some(0), Some(1), Some(1), None];
        let s = silhouette(data.view(), &labels, 100, 1).unwrap();
        let exact = silhouette_exact(data.slice(ndarray::s![..4, ..]), &[0, 0, 1, 1]).unwrap();
        assert_eq!(s, exact);
    }

    #[test]
    fn davies_bouldin_hand_example() {
        // Cluster 0: (0,0), (2,0): centre (1,0), spread 1.
        // Cluster 1: (10,0), (10,4): centre (10,2), spread 2.
        // Centre distance sqrt(81 + 4) = sqrt(85); both clusters' worst ratio is 3 / sqrt(85).
        let data = array![[0.0, 0.0], [2.0, 0.0], [10.0, 0.0], [10.0, 4.0]];
        let db = davies_bouldin(data.view(), &[Some(0), Some(0), Some(1), Some(1)]).unwrap();
        assert!((db - 3.0 / 85f64.sqrt()).abs() < 1e-12, "{db}");
        assert_eq!(
            davies_bouldin(data.view(), &[Some(0), Some(0), None, None]),
            None
        );
    }

    #[test]
    fn within_sum_of_squares_by_hand() {
        let data = array![[0.0], [2.0], [10.0], [14.0]];
        let wss = within_sum_of_squares(data.view(), &[Some(0), Some(0), Some(1), Some(1)], 2);
        assert!((wss - (1.0 + 1.0 + 4.0 + 4.0)).abs() < 1e-12);
    }
}
