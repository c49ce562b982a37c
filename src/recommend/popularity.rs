//! The baseline and the fallback: what is popular, overall or within a
//! group of profiles (a cluster or segment), by summed interaction strength.

use std::collections::HashMap;

use super::matrix::Matrix;

#[derive(Debug, Clone, Default)]
pub struct Popularity {
    pub overall: Vec<f32>,
    /// Scores within each group, for the profiles of that group.
    pub groups: HashMap<u32, Vec<f32>>,
}

impl Popularity {
    /// `group_of[user]` names the user's group, if any; groups with fewer
    /// than `min_members` interacting profiles fall back to overall.
    pub fn fit(m: &Matrix, group_of: Option<&[Option<u32>]>) -> Popularity {
        const MIN_MEMBERS: usize = 20;
        let mut overall = vec![0f32; m.cols];
        let mut groups: HashMap<u32, (Vec<f32>, usize)> = HashMap::new();
        for u in 0..m.rows {
            let (items, values) = m.row(u);
            if items.is_empty() {
                continue;
            }
            let group = group_of.and_then(|g| g.get(u).copied().flatten());
            for (&i, &v) in items.iter().zip(values) {
                overall[i as usize] += v;
            }
            if let Some(g) = group {
                let (scores, members) = groups.entry(g).or_insert_with(|| (vec![0f32; m.cols], 0));
                *members += 1;
                for (&i, &v) in items.iter().zip(values) {
                    scores[i as usize] += v;
                }
            }
        }
        Popularity {
            overall,
            groups: groups
                .into_iter()
                .filter(|(_, (_, members))| *members >= MIN_MEMBERS)
                .map(|(g, (scores, _))| (g, scores))
                .collect(),
        }
    }

    /// The scores for a profile of `group` (overall when it has none).
    pub fn scores(&self, group: Option<u32>) -> &[f32] {
        group
            .and_then(|g| self.groups.get(&g))
            .map_or(&self.overall[..], |s| &s[..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_have_their_own_favourites() {
        let mut t = Vec::new();
        for u in 0..40u32 {
            t.push((u, if u < 25 { 0 } else { 1 }, 1.0));
        }
        let m = Matrix::from_triplets(40, 2, &t);
        let groups: Vec<Option<u32>> = (0..40).map(|u| Some(u32::from(u >= 20))).collect();
        let p = Popularity::fit(&m, Some(&groups));
        assert!(p.overall[0] > p.overall[1]);
        assert!(p.scores(Some(1))[1] > p.scores(Some(1))[0]);
        assert_eq!(p.scores(None), &p.overall[..]);
        assert_eq!(p.scores(Some(7)), &p.overall[..]);
    }
}
