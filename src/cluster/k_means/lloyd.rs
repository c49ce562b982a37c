//! One Lloyd sweep: assign every row to its nearest centroid and add it to
//! that centroid's running sum, in a single pass over memory.
//!
//! Distances are taken in the expanded form `|x|² − 2x·c + |c|²` (as
//! scikit-learn does), so each of a row's 8 distances costs one multiply-add
//! per feature, and 8 centroids sit side by side per feature so those 8
//! multiply-adds are one or two SIMD instructions. The nearest centroid is
//! found without branches: with overlapping clusters which one wins is
//! unpredictable, and mispredicted branches cost more than the arithmetic.
//! The kernel is compiled twice, for baseline x86-64 and, chosen at run
//! time, for AVX2 with FMA (every x86 desktop since 2013); the number of
//! features is a const generic for 1..=16 so the loop over it is unrolled.
//!
//! The expanded form loses precision when rows sit far from the origin
//! relative to their spread; [`super::fit`] is meant for scaled data (see
//! `features::prepare`), where the error is around 1e-14.

use rayon::prelude::*;

/// Rows per parallel task. Fixed rather than derived from the number of
/// threads so the partial sums are always added in the same order: the same
/// seed gives bit-identical centroids and labels whatever the number of
/// cores (on one instruction set: the FMA build rounds differently).
pub(super) const CHUNK_ROWS: usize = 4096;

/// Centroids per SIMD block.
const LANES: usize = 8;

/// Centroids laid out for the kernel, in blocks of [`LANES`]: per block,
/// `|c|²` of each centroid, then for each feature `-2·c` of each centroid.
/// Padding centroids have `|c|² = +∞` so they never win.
pub(super) struct Packed {
    k: usize,
    d: usize,
    values: Vec<f64>,
}

impl Packed {
    /// `centroids` is `k × d`, row-major.
    pub(super) fn new(centroids: &[f64], k: usize, d: usize) -> Self {
        let blocks = k.div_ceil(LANES);
        let block_len = (d + 1) * LANES;
        let mut values = vec![0.0; blocks * block_len];
        for b in 0..blocks {
            values[b * block_len..b * block_len + LANES].fill(f64::INFINITY);
        }
        for j in 0..k {
            let (b, l) = (j / LANES, j % LANES);
            let c = &centroids[j * d..(j + 1) * d];
            values[b * block_len + l] = c.iter().map(|v| v * v).sum();
            for (e, &v) in c.iter().enumerate() {
                values[b * block_len + (e + 1) * LANES + l] = -2.0 * v;
            }
        }
        Packed { k, d, values }
    }
}

/// What one sweep found.
pub(super) struct Sweep {
    /// Per centroid, the sum of its rows (`k × d`, row-major).
    pub sums: Vec<f64>,
    pub counts: Vec<u64>,
    /// Sum of squared distances of every row to its centroid.
    pub inertia: f64,
    /// Rows whose label differs from the one `labels` held before.
    pub changed: usize,
    /// Per chunk, the row farthest from its centroid `(squared distance,
    /// row)`: candidates to re-seed a centroid that lost all its rows.
    pub farthest: Vec<(f64, usize)>,
}

struct Partial {
    sums: Vec<f64>,
    counts: Vec<u64>,
    inertia: f64,
    changed: usize,
    farthest: (f64, usize),
}

/// Assigns every row of `data` (`n × d`, row-major) to its nearest centroid,
/// updating `labels` in place.
pub(super) fn sweep(data: &[f64], d: usize, packed: &Packed, labels: &mut [u32]) -> Sweep {
    debug_assert_eq!(packed.d, d);
    debug_assert_eq!(data.len(), labels.len() * d);
    let k = packed.k;
    let simd = has_avx2_fma();
    let partials: Vec<Partial> = data
        .par_chunks(CHUNK_ROWS * d)
        .zip(labels.par_chunks_mut(CHUNK_ROWS))
        .enumerate()
        .map(|(chunk, (rows, labels))| {
            let mut p = Partial {
                sums: vec![0.0; k * d],
                counts: vec![0; k],
                inertia: 0.0,
                changed: 0,
                farthest: (-1.0, 0),
            };
            assign(rows, d, packed, labels, &mut p, simd);
            p.farthest.1 += chunk * CHUNK_ROWS;
            p
        })
        .collect();

    let mut out = Sweep {
        sums: vec![0.0; k * d],
        counts: vec![0; k],
        inertia: 0.0,
        changed: 0,
        farthest: Vec::with_capacity(partials.len()),
    };
    for p in partials {
        for (a, b) in out.sums.iter_mut().zip(&p.sums) {
            *a += b;
        }
        for (a, b) in out.counts.iter_mut().zip(&p.counts) {
            *a += b;
        }
        out.inertia += p.inertia;
        out.changed += p.changed;
        out.farthest.push(p.farthest);
    }
    out
}

pub(crate) fn has_avx2_fma() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// Picks the kernel compiled for this number of features and instruction set.
fn assign(
    rows: &[f64],
    d: usize,
    packed: &Packed,
    labels: &mut [u32],
    p: &mut Partial,
    simd: bool,
) {
    macro_rules! dispatch {
        ($($dim:literal)*) => {
            match d {
                $($dim => run::<$dim>(rows, d, packed, labels, p, simd),)*
                _ => run::<0>(rows, d, packed, labels, p, simd),
            }
        };
    }
    dispatch!(1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

fn run<const D: usize>(
    rows: &[f64],
    d: usize,
    packed: &Packed,
    labels: &mut [u32],
    p: &mut Partial,
    simd: bool,
) {
    #[cfg(target_arch = "x86_64")]
    if simd {
        // SAFETY: `simd` comes from `has_avx2_fma`, which asked the CPU.
        unsafe { kernel_avx2_fma::<D>(rows, d, packed, labels, p) };
        return;
    }
    let _ = simd;
    kernel::<D, false>(rows, d, packed, labels, p)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn kernel_avx2_fma<const D: usize>(
    rows: &[f64],
    d: usize,
    packed: &Packed,
    labels: &mut [u32],
    p: &mut Partial,
) {
    kernel::<D, true>(rows, d, packed, labels, p)
}

/// `D` is the number of features when known at compile time, 0 otherwise.
/// `FMA` uses fused multiply-adds, only where the CPU has them (elsewhere
/// `mul_add` is a slow library call).
#[inline(always)]
fn kernel<const D: usize, const FMA: bool>(
    rows: &[f64],
    d: usize,
    packed: &Packed,
    labels: &mut [u32],
    p: &mut Partial,
) {
    let d = if D == 0 { d } else { D };
    let block_len = (d + 1) * LANES;
    for (r, x) in rows.chunks_exact(d).enumerate() {
        let mut best = f64::INFINITY;
        let mut best_j = 0usize;
        for (b, block) in packed.values.chunks_exact(block_len).enumerate() {
            // |c|² − 2 x·c for the block's 8 centroids.
            let mut acc: [f64; LANES] = block[..LANES].try_into().unwrap();
            for (e, &xe) in x.iter().enumerate() {
                let c: &[f64; LANES] = block[(e + 1) * LANES..(e + 2) * LANES].try_into().unwrap();
                for l in 0..LANES {
                    acc[l] = if FMA {
                        xe.mul_add(c[l], acc[l])
                    } else {
                        xe * c[l] + acc[l]
                    };
                }
            }
            let low = smallest(&acc);
            // Lanes holding the minimum, as bits; the lowest wins ties.
            let mut mask = 0u32;
            for (l, &a) in acc.iter().enumerate() {
                mask |= ((a == low) as u32) << l;
            }
            if low < best {
                best = low;
                best_j = b * LANES + mask.trailing_zeros() as usize;
            }
        }
        let norm: f64 = x.iter().map(|v| v * v).sum();
        let dist = (best + norm).max(0.0);
        let label = best_j as u32;
        p.changed += (labels[r] != label) as usize;
        labels[r] = label;
        p.counts[best_j] += 1;
        for (s, &xe) in p.sums[best_j * d..(best_j + 1) * d].iter_mut().zip(x) {
            *s += xe;
        }
        p.inertia += dist;
        if dist > p.farthest.0 {
            p.farthest = (dist, r);
        }
    }
}

/// The minimum of 8 values as a tree of plain comparisons, which compile to
/// SIMD min instructions (`f64::min`'s NaN rules would add blends).
#[inline(always)]
fn smallest(v: &[f64; LANES]) -> f64 {
    let min = |a: f64, b: f64| if a < b { a } else { b };
    let h: [f64; 4] = std::array::from_fn(|l| min(v[l], v[l + 4]));
    let q = [min(h[0], h[2]), min(h[1], h[3])];
    min(q[0], q[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sweep_matches_brute_force_for_odd_shapes() {
        // 11 centroids (two blocks, padded) in 3 and 19 dimensions (generic kernel).
        for d in [3usize, 19] {
            let k = 11;
            let n = 5000;
            let data: Vec<f64> = (0..n * d)
                .map(|i| ((i * 7919) % 1013) as f64 / 97.0)
                .collect();
            let centroids: Vec<f64> = (0..k * d)
                .map(|i| ((i * 104729) % 997) as f64 / 91.0)
                .collect();
            let mut labels = vec![u32::MAX; n];
            let s = sweep(&data, d, &Packed::new(&centroids, k, d), &mut labels);
            let mut inertia = 0.0;
            for i in 0..n {
                let x = &data[i * d..(i + 1) * d];
                let dists: Vec<f64> = (0..k)
                    .map(|j| {
                        x.iter()
                            .zip(&centroids[j * d..(j + 1) * d])
                            .map(|(a, b)| (a - b) * (a - b))
                            .sum()
                    })
                    .collect();
                let best = (0..k)
                    .min_by(|&a, &b| dists[a].total_cmp(&dists[b]))
                    .unwrap();
                // The expanded form may order exact ties differently, nothing more.
                assert!(dists[labels[i] as usize] <= dists[best] + 1e-9);
                inertia += dists[best];
            }
            assert!((s.inertia - inertia).abs() < 1e-9 * inertia);
            assert_eq!(s.counts.iter().sum::<u64>(), n as u64);
            assert_eq!(s.changed, n);
            let again = sweep(&data, d, &Packed::new(&centroids, k, d), &mut labels);
            assert_eq!(again.changed, 0);
        }
    }
}
