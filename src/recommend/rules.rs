//! Business rules applied to any model's scores before the top N are
//! picked: what may not be recommended, what is pushed up or down, and how
//! many products of one category a list may hold.

use serde::{Deserialize, Serialize};

use super::content::Content;
use super::interactions::Catalogue;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "RecommendRules")]
#[serde(default)]
pub struct Rules {
    /// Do not recommend what the profile already bought...
    pub exclude_purchased: bool,
    /// ...unless it is in one of these categories (coffee, razor blades).
    pub replenishable_categories: Vec<String>,
    /// Leave out products the catalogue marks out of stock.
    pub exclude_out_of_stock: bool,
    /// Never recommend products of these categories.
    pub excluded_categories: Vec<String>,
    /// Multiply the score of a SKU or a whole category: above 1 boosts,
    /// below 1 buries.
    pub boosts: Vec<Boost>,
    /// At most this many products of one category per list; 0 = no cap.
    pub max_per_category: usize,
}

impl Default for Rules {
    fn default() -> Self {
        Rules {
            exclude_purchased: true,
            replenishable_categories: Vec::new(),
            exclude_out_of_stock: true,
            excluded_categories: Vec::new(),
            boosts: Vec::new(),
            max_per_category: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export)]
pub struct Boost {
    /// A SKU, or a category name (case-insensitive).
    pub target: String,
    pub factor: f32,
}

/// The rules resolved against a catalogue: one flag and factor per product.
#[derive(Debug, Clone)]
pub struct Applied {
    blocked: Vec<bool>,
    replenishable: Vec<bool>,
    factor: Vec<f32>,
    category: Vec<Option<u32>>,
    exclude_purchased: bool,
    max_per_category: usize,
}

impl Applied {
    pub fn new(rules: &Rules, catalogue: &Catalogue, content: &Content) -> Applied {
        let lower = |v: &[String]| {
            v.iter()
                .map(|s| s.trim().to_lowercase())
                .collect::<Vec<_>>()
        };
        let excluded = lower(&rules.excluded_categories);
        let replenish = lower(&rules.replenishable_categories);
        let mut applied = Applied {
            blocked: Vec::with_capacity(catalogue.len()),
            replenishable: Vec::with_capacity(catalogue.len()),
            factor: Vec::with_capacity(catalogue.len()),
            category: (0..catalogue.len() as u32)
                .map(|i| content.category_of(i))
                .collect(),
            exclude_purchased: rules.exclude_purchased,
            max_per_category: rules.max_per_category,
        };
        for p in &catalogue.products {
            let cat = p.category.as_deref().map(|c| c.trim().to_lowercase());
            let in_cat = |list: &[String]| cat.as_ref().is_some_and(|c| list.contains(c));
            applied.blocked.push(
                in_cat(&excluded) || (rules.exclude_out_of_stock && p.in_stock == Some(false)),
            );
            applied.replenishable.push(in_cat(&replenish));
            let mut f = 1.0;
            for b in &rules.boosts {
                let t = b.target.trim();
                if t == p.sku || cat.as_deref() == Some(&t.to_lowercase()) {
                    f *= b.factor.max(0.0);
                }
            }
            applied.factor.push(f);
        }
        applied
    }

    /// The best `n` products for these scores, most relevant first, with
    /// the rules applied. `purchased` are the profile's bought products,
    /// sorted (looked up by binary search: a list holds hundreds of them
    /// for a loyal customer, and this runs for every product of the
    /// catalogue). Products scoring 0 are never picked.
    pub fn pick(&self, scores: &[f32], purchased: &[u32], n: usize) -> Vec<(u32, f32)> {
        self.pick_from(
            scores.iter().enumerate().map(|(i, &s)| (i as u32, s)),
            purchased,
            n,
        )
    }

    /// [`Applied::pick`] over some products only, as `(item, raw score)`:
    /// the same rules and order, so candidates holding every product that
    /// could make the list give the same answer as the whole catalogue.
    pub fn pick_from(
        &self,
        scores: impl Iterator<Item = (u32, f32)>,
        purchased: &[u32],
        n: usize,
    ) -> Vec<(u32, f32)> {
        debug_assert!(purchased.windows(2).all(|w| w[0] < w[1]), "sorted");
        let mut candidates: Vec<(u32, f32)> = scores
            .filter(|&(i, s)| s > 0.0 && !self.blocked[i as usize])
            .map(|(i, s)| (i, s * self.factor[i as usize]))
            .filter(|&(i, s)| {
                s > 0.0
                    && !(self.exclude_purchased
                        && !self.replenishable[i as usize]
                        && purchased.binary_search(&i).is_ok())
            })
            .collect();
        if self.max_per_category == 0 {
            super::top_n(&mut candidates, n);
            return candidates;
        }
        // Enough candidates that the cap rarely runs out of them; if it
        // does, sort the rest too.
        let mut want = (n * 8).max(64);
        loop {
            let mut head = candidates.clone();
            super::top_n(&mut head, want);
            let mut per_category = std::collections::HashMap::new();
            let mut out = Vec::with_capacity(n);
            for &(i, s) in &head {
                if let Some(c) = self.category[i as usize] {
                    let used = per_category.entry(c).or_insert(0usize);
                    if *used >= self.max_per_category {
                        continue;
                    }
                    *used += 1;
                }
                out.push((i, s));
                if out.len() == n {
                    break;
                }
            }
            if out.len() == n || head.len() == candidates.len() {
                return out;
            }
            want *= 4;
        }
    }

    /// The largest boost factor: no product's score can grow by more, which
    /// bounds what a product outside a candidate list could reach.
    pub fn max_factor(&self) -> f32 {
        self.factor.iter().copied().fold(1.0, f32::max)
    }

    /// Whether `item` may join `list` under the category cap.
    pub fn fits_cap(&self, list: &[u32], item: u32) -> bool {
        if self.max_per_category == 0 {
            return true;
        }
        match self.category[item as usize] {
            None => true,
            Some(c) => {
                list.iter()
                    .filter(|&&i| self.category[i as usize] == Some(c))
                    .count()
                    < self.max_per_category
            }
        }
    }

    /// Whether the rules let this product be recommended at all.
    pub fn allows(&self, item: u32) -> bool {
        !self.blocked[item as usize] && self.factor[item as usize] > 0.0
    }
}

#[cfg(test)]
mod tests {
    use super::super::interactions::Product;
    use super::*;

    fn catalogue() -> Catalogue {
        let p = |sku: &str, cat: &str, in_stock| Product {
            sku: sku.into(),
            title: None,
            category: Some(cat.into()),
            brand: None,
            price: None,
            price_band: 0,
            in_stock,
        };
        Catalogue::from_products(vec![
            p("a", "Coffee", Some(true)),
            p("b", "Mugs", Some(false)),
            p("c", "Mugs", None),
            p("d", "Mugs", Some(true)),
            p("e", "Gifts", Some(true)),
            p("f", "Coffee", Some(true)),
        ])
    }

    #[test]
    fn rules_exclude_boost_and_cap() {
        let cat = catalogue();
        let content = Content::new(&cat);
        let scores = [6.0, 5.0, 4.0, 3.0, 2.0, 1.0];
        let default = Applied::new(&Rules::default(), &cat, &content);
        // Out of stock "b" and purchased "a" go.
        assert_eq!(ids(default.pick(&scores, &[0], 3)), [2, 3, 4]);
        let rules = Rules {
            replenishable_categories: vec!["coffee".into()],
            excluded_categories: vec!["Gifts".into()],
            boosts: vec![
                Boost {
                    target: "f".into(),
                    factor: 10.0,
                },
                Boost {
                    target: "mugs".into(),
                    factor: 0.5,
                },
            ],
            max_per_category: 1,
            ..Rules::default()
        };
        let applied = Applied::new(&rules, &cat, &content);
        // f boosted to 10 first, a (replenishable) kept but capped after f,
        // one mug only, gifts excluded.
        assert_eq!(ids(applied.pick(&scores, &[0], 5)), [5, 2]);
        assert!(!applied.allows(4) && !applied.allows(1) && applied.allows(0));
    }

    fn ids(v: Vec<(u32, f32)>) -> Vec<u32> {
        v.into_iter().map(|p| p.0).collect()
    }
}
