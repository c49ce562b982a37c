//! Seeded row samples. Every random choice in `cluster` goes through here or
//! through an rng built by [`rng`], so the same seed gives the same result.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// Independent random streams drawn from one seed, one per purpose, so that
/// changing how many rows one stage samples does not shift another stage's
/// sample.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Stream {
    KMeansInit = 1,
    KMeansSeeding = 8,
    ChooseK = 2,
    ChooseKSilhouette = 3,
    Silhouette = 4,
    Chart = 5,
    Dbscan = 6,
    Mixture = 7,
}

pub(crate) fn rng(seed: u64, stream: Stream) -> ChaCha8Rng {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    rng.set_stream(stream as u64);
    rng
}

/// `m` distinct indices out of `0..n`, sorted (so reading the rows walks
/// memory forwards); all of them when `m >= n`.
pub(crate) fn indices(n: usize, m: usize, seed: u64, stream: Stream) -> Vec<usize> {
    if m >= n {
        return (0..n).collect();
    }
    let mut picked = rand::seq::index::sample(&mut rng(seed, stream), n, m).into_vec();
    picked.sort_unstable();
    picked
}

/// `m` distinct elements of `from`, in their original order.
pub(crate) fn subset(from: &[usize], m: usize, seed: u64, stream: Stream) -> Vec<usize> {
    indices(from.len(), m, seed, stream)
        .into_iter()
        .map(|i| from[i])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_sample_and_streams_differ() {
        let a = indices(1000, 10, 7, Stream::Chart);
        assert_eq!(a, indices(1000, 10, 7, Stream::Chart));
        assert_ne!(a, indices(1000, 10, 7, Stream::Silhouette));
        assert!(a.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(indices(5, 10, 7, Stream::Chart), vec![0, 1, 2, 3, 4]);
    }
}
