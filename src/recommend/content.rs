//! Content-based scores for the cold start: a product nobody has bought yet
//! still has a category, a brand and a price, and a profile's history says
//! which of those it likes. The score of a product is the share of the
//! profile's interaction strength that went to its category, brand and
//! price band, weighted [`CATEGORY`], [`BRAND`], [`PRICE`].

use std::collections::HashMap;

use super::interactions::Catalogue;

pub const CATEGORY: f32 = 0.5;
pub const BRAND: f32 = 0.3;
pub const PRICE: f32 = 0.2;
const NONE: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub struct Content {
    category: Vec<u32>,
    brand: Vec<u32>,
    band: Vec<u8>,
    categories: usize,
    brands: usize,
}

/// Which attribute a content-based recommendation shares with the history.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shared {
    Category,
    Brand,
    Price,
}

impl Content {
    pub fn new(catalogue: &Catalogue) -> Content {
        fn ids(values: impl Iterator<Item = Option<String>>) -> (Vec<u32>, usize) {
            let mut seen: HashMap<String, u32> = HashMap::new();
            let v = values
                .map(
                    |v| match v.map(|s| s.trim().to_lowercase()).filter(|s| !s.is_empty()) {
                        Some(s) => {
                            let next = seen.len() as u32;
                            *seen.entry(s).or_insert(next)
                        }
                        None => NONE,
                    },
                )
                .collect();
            (v, seen.len())
        }
        let (category, categories) = ids(catalogue.products.iter().map(|p| p.category.clone()));
        let (brand, brands) = ids(catalogue.products.iter().map(|p| p.brand.clone()));
        Content {
            category,
            brand,
            band: catalogue.products.iter().map(|p| p.price_band).collect(),
            categories,
            brands,
        }
    }

    /// The category id of each product (`u32::MAX` when it has none), for
    /// the diversity cap.
    pub fn category_of(&self, item: u32) -> Option<u32> {
        Some(self.category[item as usize]).filter(|&c| c != NONE)
    }

    /// Adds to `out` the content score of every product for this history.
    pub fn score(&self, items: &[u32], values: &[f32], out: &mut [f32]) {
        let total: f32 = values.iter().sum();
        if total <= 0.0 {
            return;
        }
        let mut cat = vec![0f32; self.categories];
        let mut brand = vec![0f32; self.brands];
        let mut band = [0f32; 6];
        for (&i, &v) in items.iter().zip(values) {
            let i = i as usize;
            if self.category[i] != NONE {
                cat[self.category[i] as usize] += v / total;
            }
            if self.brand[i] != NONE {
                brand[self.brand[i] as usize] += v / total;
            }
            if self.band[i] != 0 {
                band[self.band[i] as usize] += v / total;
            }
        }
        for (j, o) in out.iter_mut().enumerate() {
            let mut s = 0.0;
            if self.category[j] != NONE {
                s += CATEGORY * cat[self.category[j] as usize];
            }
            if self.brand[j] != NONE {
                s += BRAND * brand[self.brand[j] as usize];
            }
            if self.band[j] != 0 {
                s += PRICE * band[self.band[j] as usize];
            }
            *o += s;
        }
    }

    /// The product of the history most like `item`, and what they share.
    pub fn because(&self, items: &[u32], values: &[f32], item: u32) -> Option<(u32, Shared)> {
        let j = item as usize;
        items
            .iter()
            .zip(values)
            .filter(|&(&i, _)| i != item)
            .filter_map(|(&i, &v)| {
                let i_ = i as usize;
                let same = |a: &Vec<u32>| a[i_] != NONE && a[i_] == a[j];
                let (w, shared) = if same(&self.category) {
                    (
                        CATEGORY + if same(&self.brand) { BRAND } else { 0.0 },
                        Shared::Category,
                    )
                } else if same(&self.brand) {
                    (BRAND, Shared::Brand)
                } else if self.band[i_] != 0 && self.band[i_] == self.band[j] {
                    (PRICE, Shared::Price)
                } else {
                    return None;
                };
                Some((i, w * v, shared))
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(i, _, s)| (i, s))
    }
}

#[cfg(test)]
mod tests {
    use super::super::interactions::Product;
    use super::*;

    fn product(sku: &str, category: &str, brand: &str, band: u8) -> Product {
        Product {
            sku: sku.into(),
            title: None,
            category: Some(category.into()),
            brand: Some(brand.into()),
            price: None,
            price_band: band,
            in_stock: None,
        }
    }

    #[test]
    fn a_new_product_of_a_liked_category_and_brand_scores_first() {
        let c = Content::new(&Catalogue::from_products(vec![
            product("shoe-1", "Shoes", "Acme", 2),
            product("shoe-new", "shoes", "Acme", 3),
            product("hat", "Hats", "Other", 2),
            product("shirt", "Shirts", "Acme", 5),
        ]));
        let mut out = vec![0.0; 4];
        c.score(&[0], &[2.0], &mut out);
        assert!(
            out[1] > out[3] && out[3] > out[2] && out[2] > 0.0,
            "{out:?}"
        );
        assert_eq!(c.because(&[0], &[2.0], 1), Some((0, Shared::Category)));
        assert_eq!(c.because(&[0], &[2.0], 3), Some((0, Shared::Brand)));
        assert_eq!(c.because(&[0], &[2.0], 2), Some((0, Shared::Price)));
        assert_eq!(c.category_of(1), c.category_of(0));
    }
}
