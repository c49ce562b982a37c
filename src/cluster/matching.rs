//! Stable cluster ids across reruns: a marketer who named cluster 3 "VIPs"
//! and built a campaign on it should find the same customers under id 3
//! after next week's rerun, even though k-means numbers its clusters in
//! whatever order it found them.
//!
//! Previous centroids are given in original units and mapped through *this*
//! run's transform, so both sets are compared in today's scaled space (the
//! scaling itself moves as the data changes). The pairing minimising the
//! total distance is found with the Hungarian algorithm; a pair further
//! apart than `max_distance` (in standard deviations) is not the same
//! cluster, and the new one gets a fresh id.

/// Ids for `current` centroids given `previous` `(id, centroid)` pairs, all
/// in the same space. Fresh ids count up from `next_id`; returns the ids
/// and the next unused id.
pub(crate) fn assign_ids(
    previous: &[(u32, Vec<f64>)],
    current: &[Vec<f64>],
    max_distance: f64,
    next_id: u32,
) -> (Vec<u32>, u32) {
    let mut next = next_id.max(previous.iter().map(|p| p.0 + 1).max().unwrap_or(0));
    let mut ids = vec![None; current.len()];
    if !previous.is_empty() && !current.is_empty() {
        let size = previous.len().max(current.len());
        // Padding rows and columns cost more than any real pair.
        let padding = 1e12;
        let mut cost = vec![vec![padding; size]; size];
        for (i, c) in current.iter().enumerate() {
            for (j, (_, p)) in previous.iter().enumerate() {
                cost[i][j] = distance(c, p);
            }
        }
        for (i, j) in hungarian(&cost).into_iter().enumerate() {
            if i < current.len() && j < previous.len() && cost[i][j] <= max_distance {
                ids[i] = Some(previous[j].0);
            }
        }
    }
    let ids = ids
        .into_iter()
        .map(|id| {
            id.unwrap_or_else(|| {
                next += 1;
                next - 1
            })
        })
        .collect();
    (ids, next)
}

fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

/// Minimum-cost perfect matching on a square cost matrix: for each row, its
/// column. The O(n³) shortest augmenting path method with potentials; k is
/// at most a few dozen here.
pub(crate) fn hungarian(cost: &[Vec<f64>]) -> Vec<usize> {
    let n = cost.len();
    // 1-based, with row/column 0 as the virtual start.
    let mut u = vec![0.0; n + 1];
    let mut v = vec![0.0; n + 1];
    let mut owner = vec![0usize; n + 1]; // owner[column] = row
    let mut way = vec![0usize; n + 1];
    for row in 1..=n {
        owner[0] = row;
        let mut col0 = 0;
        let mut min_to = vec![f64::INFINITY; n + 1];
        let mut used = vec![false; n + 1];
        loop {
            used[col0] = true;
            let r = owner[col0];
            let mut delta = f64::INFINITY;
            let mut col1 = 0;
            for col in 1..=n {
                if used[col] {
                    continue;
                }
                let reduced = cost[r - 1][col - 1] - u[r] - v[col];
                if reduced < min_to[col] {
                    min_to[col] = reduced;
                    way[col] = col0;
                }
                if min_to[col] < delta {
                    delta = min_to[col];
                    col1 = col;
                }
            }
            for col in 0..=n {
                if used[col] {
                    u[owner[col]] += delta;
                    v[col] -= delta;
                } else {
                    min_to[col] -= delta;
                }
            }
            col0 = col1;
            if owner[col0] == 0 {
                break;
            }
        }
        loop {
            let prev = way[col0];
            owner[col0] = owner[prev];
            col0 = prev;
            if col0 == 0 {
                break;
            }
        }
    }
    let mut assignment = vec![0; n];
    for col in 1..=n {
        if owner[col] > 0 {
            assignment[owner[col] - 1] = col - 1;
        }
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hungarian_beats_greedy() {
        // Greedy takes (0,0) = 1 first and then pays 100; the optimum pays 2 + 3.
        let cost = vec![vec![1.0, 2.0], vec![3.0, 100.0]];
        assert_eq!(hungarian(&cost), vec![1, 0]);
        let cost = vec![
            vec![4.0, 1.0, 3.0],
            vec![2.0, 0.0, 5.0],
            vec![3.0, 2.0, 2.0],
        ];
        assert_eq!(hungarian(&cost), vec![1, 0, 2]);
    }

    #[test]
    fn permuted_centroids_keep_their_ids() {
        let previous = vec![
            (7, vec![0.0, 0.0]),
            (2, vec![5.0, 0.0]),
            (9, vec![0.0, 5.0]),
        ];
        // Same clusters, found in another order and nudged a little.
        let current = vec![vec![0.1, 5.0], vec![0.0, -0.1], vec![4.9, 0.1]];
        let (ids, next) = assign_ids(&previous, &current, 1.0, 10);
        assert_eq!(ids, vec![9, 7, 2]);
        assert_eq!(next, 10);
    }

    #[test]
    fn new_and_far_moved_clusters_get_fresh_ids() {
        let previous = vec![(0, vec![0.0]), (1, vec![10.0])];
        let current = vec![vec![10.2], vec![0.1], vec![30.0], vec![-20.0]];
        let (ids, next) = assign_ids(&previous, &current, 1.0, 2);
        assert_eq!(&ids[..2], &[1, 0]);
        assert_eq!(&ids[2..], &[2, 3]);
        assert_eq!(next, 4);
        // A cluster that jumped across the space is not the same cluster.
        let (ids, _) = assign_ids(&previous, &[vec![5.0]], 1.0, 2);
        assert_eq!(ids, vec![2]);
        // No previous run: ids from 0.
        assert_eq!(
            assign_ids(&[], &[vec![1.0], vec![2.0]], 1.0, 0),
            (vec![0, 1], 2)
        );
    }
}
