//! A small k-d tree for the two questions sampled DBSCAN asks a million
//! times: "which point is nearest, if any is within eps?" and "are there at
//! least m points within eps?". Both bound the search by eps from the start
//! and the second stops at m, which linfa-nn's general-purpose
//! `k_nearest`/`within_range` cannot (they cost ~7 µs a query here; these
//! well under 1 µs on clustered data).

use ndarray::ArrayView2;

/// Points per leaf: scanned linearly, which beats splitting further.
const LEAF: usize = 16;

pub(crate) struct KdTree {
    d: usize,
    /// The points in tree order, row-major.
    points: Vec<f64>,
    /// For each point in tree order, its row in the input.
    rows: Vec<usize>,
    nodes: Vec<Node>,
}

enum Node {
    Leaf {
        start: usize,
        end: usize,
    },
    /// Points with `coordinate ≤ value` on the left, `≥ value` on the right.
    Split {
        dim: usize,
        value: f64,
        left: usize,
        right: usize,
    },
}

impl KdTree {
    pub(crate) fn new(data: ArrayView2<f64>) -> Self {
        let (m, d) = data.dim();
        let mut order: Vec<usize> = (0..m).collect();
        let mut tree = KdTree {
            d,
            points: Vec::new(),
            rows: Vec::new(),
            nodes: Vec::new(),
        };
        if m > 0 {
            tree.build(&data, &mut order, 0);
        }
        tree.points = order.iter().flat_map(|&i| data.row(i).to_vec()).collect();
        tree.rows = order;
        tree
    }

    /// Builds the subtree over `order[..]` (which starts at `offset` in the
    /// final order) and returns its node.
    fn build(&mut self, data: &ArrayView2<f64>, order: &mut [usize], offset: usize) -> usize {
        let id = self.nodes.len();
        self.nodes.push(Node::Leaf {
            start: offset,
            end: offset + order.len(),
        });
        if order.len() <= LEAF {
            return id;
        }
        // Split the widest dimension at its median.
        let (dim, spread) = (0..self.d)
            .map(|e| {
                let (lo, hi) = order
                    .iter()
                    .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), &i| {
                        (lo.min(data[[i, e]]), hi.max(data[[i, e]]))
                    });
                (e, hi - lo)
            })
            .fold((0, -1.0), |best, c| if c.1 > best.1 { c } else { best });
        if spread <= 0.0 {
            return id; // all the same point: a leaf, however large
        }
        let mid = order.len() / 2;
        order.select_nth_unstable_by(mid, |&a, &b| data[[a, dim]].total_cmp(&data[[b, dim]]));
        let value = data[[order[mid], dim]];
        let (low, high) = order.split_at_mut(mid);
        let left = self.build(data, low, offset);
        let right = self.build(data, high, offset + mid);
        self.nodes[id] = Node::Split {
            dim,
            value,
            left,
            right,
        };
        id
    }

    /// The input row of the point nearest to `x` if one lies within
    /// `radius`, with its distance.
    pub(crate) fn nearest_within(&self, x: &[f64], radius: f64) -> Option<(usize, f64)> {
        if self.nodes.is_empty() {
            return None;
        }
        let mut best = (radius * radius, None);
        self.nearest(0, x, &mut best);
        best.1.map(|i| (self.rows[i], best.0.sqrt()))
    }

    fn nearest(&self, node: usize, x: &[f64], best: &mut (f64, Option<usize>)) {
        match self.nodes[node] {
            Node::Leaf { start, end } => {
                for i in start..end {
                    let dist = self.squared_distance(i, x);
                    if dist < best.0 || (best.1.is_none() && dist <= best.0) {
                        *best = (dist, Some(i));
                    }
                }
            }
            Node::Split {
                dim,
                value,
                left,
                right,
            } => {
                let gap = x[dim] - value;
                let (near, far) = if gap < 0.0 {
                    (left, right)
                } else {
                    (right, left)
                };
                self.nearest(near, x, best);
                if gap * gap <= best.0 {
                    self.nearest(far, x, best);
                }
            }
        }
    }

    /// How many points lie within `radius` of `x`, counting no further than
    /// `limit`.
    pub(crate) fn count_within(&self, x: &[f64], radius: f64, limit: usize) -> usize {
        let mut count = 0;
        if !self.nodes.is_empty() {
            self.count(0, x, radius * radius, limit, &mut count);
        }
        count
    }

    fn count(&self, node: usize, x: &[f64], r2: f64, limit: usize, count: &mut usize) {
        if *count >= limit {
            return;
        }
        match self.nodes[node] {
            Node::Leaf { start, end } => {
                for i in start..end {
                    if self.squared_distance(i, x) <= r2 {
                        *count += 1;
                        if *count >= limit {
                            return;
                        }
                    }
                }
            }
            Node::Split {
                dim,
                value,
                left,
                right,
            } => {
                let gap = x[dim] - value;
                let (near, far) = if gap < 0.0 {
                    (left, right)
                } else {
                    (right, left)
                };
                self.count(near, x, r2, limit, count);
                if gap * gap <= r2 {
                    self.count(far, x, r2, limit, count);
                }
            }
        }
    }

    fn squared_distance(&self, i: usize, x: &[f64]) -> f64 {
        self.points[i * self.d..(i + 1) * self.d]
            .iter()
            .zip(x)
            .map(|(a, b)| (a - b) * (a - b))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn agrees_with_brute_force() {
        let points =
            Array2::from_shape_fn((500, 3), |(i, e)| ((i * 37 + e * 11) % 101) as f64 / 10.0);
        let tree = KdTree::new(points.view());
        for q in 0..200 {
            let x: Vec<f64> = (0..3)
                .map(|e| ((q * 53 + e * 7) % 97) as f64 / 9.5)
                .collect();
            let dists: Vec<f64> = points
                .rows()
                .into_iter()
                .map(|p| {
                    p.iter()
                        .zip(&x)
                        .map(|(a, b)| (a - b) * (a - b))
                        .sum::<f64>()
                        .sqrt()
                })
                .collect();
            for radius in [0.3, 1.0, 3.0] {
                let within = dists.iter().filter(|&&d| d <= radius).count();
                assert_eq!(tree.count_within(&x, radius, usize::MAX), within);
                assert_eq!(tree.count_within(&x, radius, 3), within.min(3));
                let nearest = dists.iter().copied().fold(f64::INFINITY, f64::min);
                match tree.nearest_within(&x, radius) {
                    Some((row, d)) => {
                        assert!(
                            (d - nearest).abs() < 1e-12 && (dists[row] - nearest).abs() < 1e-12
                        );
                    }
                    None => assert!(nearest > radius),
                }
            }
        }
    }

    #[test]
    fn duplicates_and_empty() {
        let same = Array2::from_elem((100, 2), 1.0);
        let tree = KdTree::new(same.view());
        assert_eq!(tree.count_within(&[1.0, 1.0], 0.1, 1000), 100);
        assert_eq!(tree.nearest_within(&[1.0, 1.5], 0.4), None);
        let empty = Array2::<f64>::zeros((0, 2));
        assert_eq!(
            KdTree::new(empty.view()).nearest_within(&[0.0, 0.0], 1.0),
            None
        );
    }
}
