//! A compressed sparse row matrix of interaction strengths (rows = profiles,
//! columns = products). Hand-written because the models need only building
//! from triplets, transposing and row access, and sprs would add a
//! dependency for three functions while its `f32` CSR layout is the same.

/// Rows × columns, row `r` holding `indices[indptr[r]..indptr[r + 1]]`
/// (sorted, distinct) with `values` beside them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Matrix {
    pub rows: usize,
    pub cols: usize,
    pub indptr: Vec<usize>,
    pub indices: Vec<u32>,
    pub values: Vec<f32>,
}

impl Matrix {
    /// Builds from `(row, column, value)` triplets in any order; duplicates
    /// are summed.
    pub fn from_triplets(rows: usize, cols: usize, triplets: &[(u32, u32, f32)]) -> Matrix {
        let mut counts = vec![0usize; rows + 1];
        for &(r, _, _) in triplets {
            counts[r as usize + 1] += 1;
        }
        for i in 0..rows {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut cells = vec![(0u32, 0f32); triplets.len()];
        for &(r, c, v) in triplets {
            cells[next[r as usize]] = (c, v);
            next[r as usize] += 1;
        }
        let mut indptr = Vec::with_capacity(rows + 1);
        let mut indices = Vec::with_capacity(triplets.len());
        let mut values = Vec::with_capacity(triplets.len());
        indptr.push(0);
        for r in 0..rows {
            let row = &mut cells[counts[r]..counts[r + 1]];
            row.sort_unstable_by_key(|&(c, _)| c);
            for &(c, v) in row.iter() {
                if indices.len() > indptr[r] && *indices.last().unwrap() == c {
                    *values.last_mut().unwrap() += v;
                } else {
                    indices.push(c);
                    values.push(v);
                }
            }
            indptr.push(indices.len());
        }
        Matrix {
            rows,
            cols,
            indptr,
            indices,
            values,
        }
    }

    /// The columns and values of row `r`.
    pub fn row(&self, r: usize) -> (&[u32], &[f32]) {
        let (a, b) = (self.indptr[r], self.indptr[r + 1]);
        (&self.indices[a..b], &self.values[a..b])
    }

    pub fn nnz(&self) -> usize {
        self.indices.len()
    }

    /// The same matrix stored by column (columns become rows).
    pub fn transpose(&self) -> Matrix {
        let mut counts = vec![0usize; self.cols + 1];
        for &c in &self.indices {
            counts[c as usize + 1] += 1;
        }
        for i in 0..self.cols {
            counts[i + 1] += counts[i];
        }
        let mut next = counts.clone();
        let mut indices = vec![0u32; self.nnz()];
        let mut values = vec![0f32; self.nnz()];
        for r in 0..self.rows {
            let (cols, vals) = self.row(r);
            for (&c, &v) in cols.iter().zip(vals) {
                let at = &mut next[c as usize];
                indices[*at] = r as u32;
                values[*at] = v;
                *at += 1;
            }
        }
        Matrix {
            rows: self.cols,
            cols: self.rows,
            indptr: counts,
            indices,
            values,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn triplets_are_sorted_and_summed_and_transpose_round_trips() {
        let m = Matrix::from_triplets(3, 4, &[(2, 1, 1.0), (0, 3, 2.0), (0, 1, 1.0), (0, 3, 0.5)]);
        assert_eq!(m.row(0), (&[1u32, 3][..], &[1.0f32, 2.5][..]));
        assert_eq!(m.row(1), (&[][..], &[][..]));
        assert_eq!(m.row(2), (&[1u32][..], &[1.0f32][..]));
        let t = m.transpose();
        assert_eq!(t.rows, 4);
        assert_eq!(t.row(1), (&[0u32, 2][..], &[1.0f32, 1.0][..]));
        assert_eq!(t.transpose(), m);
    }
}
