//! The identity graph: records are nodes, shared identifiers and matches are
//! edges, and connected components are people. Union–find with guard rails:
//! a union is refused when it would put two people's names in one
//! component, exceed the cap of identifiers of one kind, or join records a
//! person said are different.
//!
//! Hand-written rather than taken from petgraph: the guards need per-
//! component state that is merged on every union, which a generic
//! union–find does not offer.

use std::collections::HashMap;

/// Why a union did not happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The two sides carry first names that cannot be one person's.
    NamesDiffer { a: u32, b: u32 },
    /// The result would hold more distinct identifiers of one kind than the cap.
    Cap { kind: u8 },
    /// Someone decided these records are different people.
    Decision { a: u32, b: u32 },
}

/// Per-component facts the guards look at, kept only on roots.
#[derive(Debug, Default, Clone)]
struct Facts {
    /// Records whose (first, last) names differ from each other; a few are
    /// enough to represent a component.
    names: Vec<u32>,
    /// Distinct capped identifiers: kind in the top byte, hash below.
    ids: Vec<u64>,
    /// Members that have a "different people" decision.
    constrained: Vec<u32>,
}

pub struct Graph {
    parent: Vec<u32>,
    size: Vec<u32>,
    facts: Vec<Facts>,
    forbidden: HashMap<u32, Vec<u32>>,
    cap: usize,
}

/// How many name spellings a component keeps for the name guard.
const NAMES_KEPT: usize = 8;

impl Graph {
    /// `cap`: the most distinct identifiers of one capped kind a component may hold.
    pub fn new(n: usize, cap: usize) -> Graph {
        Graph {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
            facts: vec![Facts::default(); n],
            forbidden: HashMap::new(),
            cap,
        }
    }

    /// Seeds a record's own facts: it has a name, and these capped identifiers.
    pub fn seed(&mut self, node: u32, has_name: bool, ids: impl IntoIterator<Item = u64>) {
        let f = &mut self.facts[node as usize];
        if has_name {
            f.names.push(node);
        }
        f.ids.extend(ids);
        f.ids.sort_unstable();
        f.ids.dedup();
    }

    /// Records `a` and `b` must never share a component.
    pub fn forbid(&mut self, a: u32, b: u32) {
        for (x, y) in [(a, b), (b, a)] {
            self.forbidden.entry(x).or_default().push(y);
            let root = self.find(x);
            let c = &mut self.facts[root as usize].constrained;
            if !c.contains(&x) {
                c.push(x);
            }
        }
    }

    pub fn find(&mut self, mut x: u32) -> u32 {
        let mut root = x;
        while self.parent[root as usize] != root {
            root = self.parent[root as usize];
        }
        while self.parent[x as usize] != root {
            let next = self.parent[x as usize];
            self.parent[x as usize] = root;
            x = next;
        }
        root
    }

    pub fn same(&mut self, a: u32, b: u32) -> bool {
        self.find(a) == self.find(b)
    }

    pub fn component_size(&mut self, x: u32) -> u32 {
        let r = self.find(x);
        self.size[r as usize]
    }

    /// Joins the components of `a` and `b` if every guard allows it.
    /// `compatible(x, y)` says whether records x and y can carry one
    /// person's names. Ok(false): already together.
    pub fn union(
        &mut self,
        a: u32,
        b: u32,
        compatible: &dyn Fn(u32, u32) -> bool,
    ) -> Result<bool, Refusal> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(false);
        }
        self.check(ra, rb, compatible)?;
        self.join(ra, rb);
        Ok(true)
    }

    /// Joins regardless of names and caps (a person said "same"), but never
    /// across a "different" decision.
    pub fn force(&mut self, a: u32, b: u32) -> Result<bool, Refusal> {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return Ok(false);
        }
        self.check_decisions(ra, rb)?;
        self.join(ra, rb);
        Ok(true)
    }

    fn check(
        &mut self,
        ra: u32,
        rb: u32,
        compatible: &dyn Fn(u32, u32) -> bool,
    ) -> Result<(), Refusal> {
        self.check_decisions(ra, rb)?;
        let (fa, fb) = (&self.facts[ra as usize], &self.facts[rb as usize]);
        for &x in &fa.names {
            for &y in &fb.names {
                if !compatible(x, y) {
                    return Err(Refusal::NamesDiffer { a: x, b: y });
                }
            }
        }
        if !fa.ids.is_empty() && !fb.ids.is_empty() {
            let mut counts: HashMap<u8, usize> = HashMap::new();
            let mut all: Vec<u64> = fa.ids.iter().chain(&fb.ids).copied().collect();
            all.sort_unstable();
            all.dedup();
            for id in all {
                let kind = (id >> 56) as u8;
                let n = counts.entry(kind).or_default();
                *n += 1;
                if *n > self.cap {
                    return Err(Refusal::Cap { kind });
                }
            }
        }
        Ok(())
    }

    fn check_decisions(&mut self, ra: u32, rb: u32) -> Result<(), Refusal> {
        let (small, other) = if self.facts[ra as usize].constrained.len()
            <= self.facts[rb as usize].constrained.len()
        {
            (ra, rb)
        } else {
            (rb, ra)
        };
        let constrained = self.facts[small as usize].constrained.clone();
        for x in constrained {
            let partners = self.forbidden.get(&x).cloned().unwrap_or_default();
            for y in partners {
                if self.find(y) == other {
                    return Err(Refusal::Decision { a: x, b: y });
                }
            }
        }
        Ok(())
    }

    fn join(&mut self, ra: u32, rb: u32) {
        let (big, small) = if self.size[ra as usize] >= self.size[rb as usize] {
            (ra, rb)
        } else {
            (rb, ra)
        };
        self.parent[small as usize] = big;
        self.size[big as usize] += self.size[small as usize];
        let moved = std::mem::take(&mut self.facts[small as usize]);
        let f = &mut self.facts[big as usize];
        for n in moved.names {
            if f.names.len() < NAMES_KEPT {
                f.names.push(n);
            }
        }
        if !moved.ids.is_empty() {
            f.ids.extend(moved.ids);
            f.ids.sort_unstable();
            f.ids.dedup();
        }
        f.constrained.extend(moved.constrained);
    }

    /// Drops name spellings that are the same as one already kept, so the
    /// name guard stays cheap on components with hundreds of orders.
    pub fn dedupe_names(&mut self, x: u32, same: &dyn Fn(u32, u32) -> bool) {
        let r = self.find(x) as usize;
        let names = std::mem::take(&mut self.facts[r].names);
        let mut kept: Vec<u32> = Vec::new();
        for n in names {
            if !kept.iter().any(|k| same(*k, n)) {
                kept.push(n);
            }
        }
        self.facts[r].names = kept;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unions_respect_names_caps_and_decisions() {
        // Names: 0 Anna, 1 Anna, 2 Ben, 3 (none), 4 (none).
        let names = ["anna", "anna", "ben", "", ""];
        let compatible = |a: u32, b: u32| {
            let (x, y) = (names[a as usize], names[b as usize]);
            x.is_empty() || y.is_empty() || x == y
        };
        let mut g = Graph::new(5, 2);
        for i in 0..5 {
            g.seed(i, !names[i as usize].is_empty(), []);
        }
        assert_eq!(g.union(0, 1, &compatible), Ok(true));
        assert_eq!(g.union(0, 1, &compatible), Ok(false));
        // 3 has no name: joins Anna's component, then Ben is refused even
        // though 3 itself has no name.
        assert_eq!(g.union(3, 0, &compatible), Ok(true));
        assert!(matches!(
            g.union(3, 2, &compatible),
            Err(Refusal::NamesDiffer { .. })
        ));
        assert_eq!(g.component_size(1), 3);

        g.forbid(4, 1);
        assert!(matches!(g.force(4, 0), Err(Refusal::Decision { .. })));

        let mut g = Graph::new(4, 2);
        for (i, id) in [(0u32, 1u64), (1, 2), (2, 3), (3, 3)] {
            g.seed(i, false, [id]);
        }
        assert_eq!(g.union(0, 1, &compatible), Ok(true));
        assert_eq!(g.union(2, 3, &compatible), Ok(true));
        assert!(matches!(
            g.union(0, 2, &compatible),
            Err(Refusal::Cap { .. })
        ));
    }
}
