//! What people did with products, read from the workspace: order lines
//! (purchases, by quantity) and web events with a SKU (views, add-to-carts,
//! purchases), each tied to a profile the way segments and traits tie them,
//! and the catalogue the products come from.
//!
//! Interactions stay a flat list with their time and kind, so that a model
//! can be trained on any time window (the evaluation's temporal split) and
//! weighted with any [`Weights`] without reading the workspace again.

use std::collections::HashMap;

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::matrix::Matrix;
use super::RecommendError;
use crate::progress::{Cancelled, Progress, Tick};
use crate::traits::scan::epoch_seconds;

/// How strongly each kind of interaction says "this person likes this
/// product", and how fast that fades. A purchase of 2 counts twice.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ts_rs::TS)]
#[ts(export, rename = "InteractionWeights")]
pub struct Weights {
    pub view: f32,
    pub add_to_cart: f32,
    pub purchase: f32,
    /// An interaction this many days old counts half; 0 = no decay.
    pub half_life_days: f32,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            view: 1.0,
            add_to_cart: 3.0,
            purchase: 5.0,
            half_life_days: 180.0,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    View,
    AddToCart,
    Purchase,
}

impl Action {
    /// The kind of an event by its name (GA4 and Shopify/Segment spellings);
    /// other events say nothing about a product preference.
    fn of_event(name: &str) -> Option<Action> {
        match name {
            "view_item" | "product_viewed" | "Product Viewed" | "page_view_product" => {
                Some(Action::View)
            }
            "add_to_cart" | "product_added" | "Product Added" => Some(Action::AddToCart),
            "purchase" | "Order Completed" => Some(Action::Purchase),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interaction {
    /// Index into [`Interactions::profiles`].
    pub user: u32,
    /// Index into [`Catalogue::products`].
    pub item: u32,
    /// Seconds since the Unix epoch.
    pub at: i64,
    pub action: Action,
    pub quantity: f32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Product {
    pub sku: String,
    pub title: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    /// Minor units of the workspace currency.
    pub price: Option<i64>,
    /// 1 (cheapest fifth of the catalogue) to 5; 0 when the price is unknown.
    pub price_band: u8,
    /// `None` when the catalogue does not say (counted as in stock).
    pub in_stock: Option<bool>,
}

/// Every product a model may recommend: the imported catalogue, plus SKUs
/// seen in orders or events but missing from it (kept, with what the order
/// line says, so their history still counts).
#[derive(Debug, Clone, Default)]
pub struct Catalogue {
    pub products: Vec<Product>,
    by_sku: HashMap<String, u32>,
}

impl Catalogue {
    pub fn index_of(&self, sku: &str) -> Option<u32> {
        self.by_sku.get(sku).copied()
    }
    pub fn len(&self) -> usize {
        self.products.len()
    }
    pub fn is_empty(&self) -> bool {
        self.products.is_empty()
    }
    fn intern(&mut self, sku: &str, title: Option<&str>) -> u32 {
        if let Some(&i) = self.by_sku.get(sku) {
            return i;
        }
        let i = self.products.len() as u32;
        self.products.push(Product {
            sku: sku.to_owned(),
            title: title.map(str::to_owned),
            category: None,
            brand: None,
            price: None,
            price_band: 0,
            in_stock: None,
        });
        self.by_sku.insert(sku.to_owned(), i);
        i
    }

    /// Built from products directly (tests, benches).
    pub fn from_products(products: Vec<Product>) -> Catalogue {
        let by_sku = products
            .iter()
            .enumerate()
            .map(|(i, p)| (p.sku.clone(), i as u32))
            .collect();
        Catalogue { products, by_sku }
    }

    /// Price bands by quintile of the priced products.
    fn assign_price_bands(&mut self) {
        let mut prices: Vec<i64> = self.products.iter().filter_map(|p| p.price).collect();
        if prices.is_empty() {
            return;
        }
        prices.sort_unstable();
        let cut = |q: usize| prices[(prices.len() * q / 5).min(prices.len() - 1)];
        let cuts = [cut(1), cut(2), cut(3), cut(4)];
        for p in &mut self.products {
            if let Some(price) = p.price {
                p.price_band = 1 + cuts.iter().filter(|&&c| price >= c).count() as u8;
            }
        }
    }
}

/// The interactions of the workspace and the profiles and products they
/// connect.
#[derive(Debug, Clone, Default)]
pub struct Interactions {
    /// Profile ids, indexed by [`Interaction::user`]: every profile of the
    /// workspace, with or without interactions, so each gets recommendations.
    pub profiles: Vec<i64>,
    pub catalogue: Catalogue,
    pub rows: Vec<Interaction>,
    /// `(user, item)` of order lines whose order has no usable time. They
    /// cannot be aged or placed either side of a cut-off, so no model
    /// learns from them, but the product was bought: it counts as
    /// purchased, so the rules do not recommend it again.
    pub undated: Vec<(u32, u32)>,
    user_of: HashMap<i64, u32>,
}

impl Interactions {
    pub fn user_of(&self, profile: i64) -> Option<u32> {
        self.user_of.get(&profile).copied()
    }

    /// What each profile bought before `cutoff` (every dated purchase with
    /// `i64::MAX`), undated purchases included, sorted and distinct.
    pub fn purchased_before(&self, cutoff: i64) -> Vec<Vec<u32>> {
        let mut purchased = vec![Vec::new(); self.profiles.len()];
        for r in &self.rows {
            if r.action == Action::Purchase && r.at < cutoff {
                purchased[r.user as usize].push(r.item);
            }
        }
        for &(user, item) in &self.undated {
            purchased[user as usize].push(item);
        }
        for p in &mut purchased {
            p.sort_unstable();
            p.dedup();
        }
        purchased
    }

    /// Built from parts directly (tests, benches).
    pub fn from_parts(profiles: Vec<i64>, catalogue: Catalogue, rows: Vec<Interaction>) -> Self {
        let user_of = profiles
            .iter()
            .enumerate()
            .map(|(i, &p)| (p, i as u32))
            .collect();
        Interactions {
            profiles,
            catalogue,
            rows,
            undated: Vec::new(),
            user_of,
        }
    }

    /// The time of the latest interaction, if any.
    pub fn latest(&self) -> Option<i64> {
        self.rows.iter().map(|r| r.at).max()
    }

    /// Profiles × products, each cell the decayed, weighted sum of the
    /// interactions `keep` lets through, as seen at `now` (seconds).
    pub fn matrix(
        &self,
        weights: &Weights,
        now: i64,
        keep: impl Fn(&Interaction) -> bool,
    ) -> Matrix {
        let triplets: Vec<(u32, u32, f32)> = self
            .rows
            .iter()
            .filter(|r| keep(r))
            .filter_map(|r| {
                let w = weights.of(r, now);
                (w > 0.0).then_some((r.user, r.item, w))
            })
            .collect();
        Matrix::from_triplets(self.profiles.len(), self.catalogue.len(), &triplets)
    }
}

impl Weights {
    /// The strength of one interaction seen at `now`.
    pub fn of(&self, r: &Interaction, now: i64) -> f32 {
        let base = match r.action {
            Action::View => self.view,
            Action::AddToCart => self.add_to_cart,
            Action::Purchase => self.purchase,
        } * r.quantity.max(1.0);
        if self.half_life_days <= 0.0 {
            return base;
        }
        let age_days = ((now - r.at).max(0) as f32) / 86_400.0;
        base * 0.5f32.powf(age_days / self.half_life_days)
    }
}

const TICK_EVERY: u64 = 50_000;

/// Reads profiles, the catalogue, order lines and product events.
pub fn load(
    conn: &Connection,
    progress: &mut dyn Progress,
) -> Result<Interactions, RecommendError> {
    let started = std::time::Instant::now();
    let mut tick = |stage: &str, done: u64| -> Result<(), RecommendError> {
        progress.tick(&Tick {
            stage,
            done,
            total: None,
            bytes: 0,
            total_bytes: None,
            elapsed: started.elapsed(),
        });
        if progress.is_cancelled() {
            return Err(Cancelled.into());
        }
        Ok(())
    };
    let sql = |context: &'static str| move |source| RecommendError::Sql { context, source };

    let mut profiles = Vec::new();
    {
        let mut stmt = conn
            .prepare("SELECT id FROM profiles ORDER BY id")
            .map_err(sql("read the profiles"))?;
        let mut rows = stmt.query([]).map_err(sql("read the profiles"))?;
        while let Some(r) = rows.next().map_err(sql("read the profiles"))? {
            profiles.push(r.get::<_, i64>(0).map_err(sql("read the profiles"))?);
        }
    }
    let user_of: HashMap<i64, u32> = profiles
        .iter()
        .enumerate()
        .map(|(i, &p)| (p, i as u32))
        .collect();

    // The catalogue: the latest row of each SKU (as traits and segments read it).
    let mut catalogue = Catalogue::default();
    {
        const WHAT: &str = "read the product catalogue";
        let mut stmt = conn
            .prepare(
                "SELECT sku, title, category, brand, price, in_stock FROM products
                  WHERE id IN (SELECT max(id) FROM products GROUP BY sku) ORDER BY sku",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            let sku: String = r.get(0).map_err(sql(WHAT))?;
            let i = catalogue.intern(
                &sku,
                r.get_ref(1)
                    .map_err(sql(WHAT))?
                    .as_str_or_null()
                    .ok()
                    .flatten(),
            );
            let p = &mut catalogue.products[i as usize];
            p.category = r.get(2).map_err(sql(WHAT))?;
            p.brand = r.get(3).map_err(sql(WHAT))?;
            p.price = r.get(4).map_err(sql(WHAT))?;
            p.in_stock = r
                .get::<_, Option<i64>>(5)
                .map_err(sql(WHAT))?
                .map(|v| v != 0);
        }
    }
    catalogue.assign_price_bands();

    let mut out = Vec::new();
    let mut undated = Vec::new();
    // Order lines of orders that reached a profile and were not cancelled.
    {
        const WHAT: &str = "read the order lines";
        let mut stmt = conn
            .prepare(
                "SELECT r.profile_id, o.ordered_at, l.sku, l.quantity, l.product_name
                   FROM order_lines l
                   JOIN orders o ON o.source_id = l.source_id AND o.source_key = l.order_key
                   JOIN identity_records r ON r.source_id = o.source_id AND r.kind = 'order'
                                          AND r.source_key = o.source_key
                  WHERE r.profile_id IS NOT NULL AND l.sku IS NOT NULL AND l.sku <> ''
                    AND coalesce(o.cancelled_at, '') = ''
                    AND coalesce(lower(o.financial_status), '') NOT IN ('voided', 'cancelled')",
            )
            .map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        let mut done = 0u64;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            done += 1;
            if done % TICK_EVERY == 0 {
                tick("Reading orders", done)?;
            }
            let Some(&user) = user_of.get(&r.get::<_, i64>(0).map_err(sql(WHAT))?) else {
                continue;
            };
            let at = epoch_seconds(r.get_ref(1).map_err(sql(WHAT))?.as_str().unwrap_or(""));
            let sku = r.get_ref(2).map_err(sql(WHAT))?.as_str().unwrap_or("");
            let title = r
                .get_ref(4)
                .map_err(sql(WHAT))?
                .as_str_or_null()
                .ok()
                .flatten();
            let item = catalogue.intern(sku, title);
            let Some(at) = at else {
                undated.push((user, item));
                continue;
            };
            let quantity = r
                .get::<_, Option<i64>>(3)
                .map_err(sql(WHAT))?
                .unwrap_or(1)
                .max(1);
            out.push(Interaction {
                user,
                item,
                at,
                action: Action::Purchase,
                quantity: quantity as f32,
            });
        }
    }

    let have_orders = !out.is_empty() || !undated.is_empty();
    // Product events, tied to a profile through the logged-in customer id
    // (when it names one profile) or else the device.
    {
        const WHAT: &str = "read the product events";
        let query = format!(
            "SELECT {profile}, e.name, e.occurred_at, e.sku FROM events e
              WHERE e.sku IS NOT NULL AND e.sku <> ''",
            profile = crate::segments::compile::EVENT_PROFILE
        );
        let mut stmt = conn.prepare(&query).map_err(sql(WHAT))?;
        let mut rows = stmt.query([]).map_err(sql(WHAT))?;
        let mut done = 0u64;
        while let Some(r) = rows.next().map_err(sql(WHAT))? {
            done += 1;
            if done % TICK_EVERY == 0 {
                tick("Reading product views", done)?;
            }
            let Some(action) =
                Action::of_event(r.get_ref(1).map_err(sql(WHAT))?.as_str().unwrap_or(""))
            else {
                continue;
            };
            // A web purchase event repeats an order line: with orders
            // imported it would count the purchase twice.
            if action == Action::Purchase && have_orders {
                continue;
            }
            let Some(profile) = r.get::<_, Option<i64>>(0).map_err(sql(WHAT))? else {
                continue;
            };
            let Some(&user) = user_of.get(&profile) else {
                continue;
            };
            let Some(at) = epoch_seconds(r.get_ref(2).map_err(sql(WHAT))?.as_str().unwrap_or(""))
            else {
                continue;
            };
            let item = catalogue.intern(
                r.get_ref(3).map_err(sql(WHAT))?.as_str().unwrap_or(""),
                None,
            );
            out.push(Interaction {
                user,
                item,
                at,
                action,
                quantity: 1.0,
            });
        }
    }
    Ok(Interactions {
        profiles,
        catalogue,
        rows: out,
        undated,
        user_of,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_rank_actions_and_decay_by_half_life() {
        let w = Weights::default();
        let at = |action, days: i64| Interaction {
            user: 0,
            item: 0,
            at: 1_000 * 86_400 - days * 86_400,
            action,
            quantity: 1.0,
        };
        let now = 1_000 * 86_400;
        assert!(w.of(&at(Action::View, 0), now) < w.of(&at(Action::AddToCart, 0), now));
        assert!(w.of(&at(Action::AddToCart, 0), now) < w.of(&at(Action::Purchase, 0), now));
        let fresh = w.of(&at(Action::Purchase, 0), now);
        let old = w.of(&at(Action::Purchase, 180), now);
        assert!((old - fresh / 2.0).abs() < 1e-4, "{old} vs {fresh}");
    }

    #[test]
    fn price_bands_follow_quintiles() {
        let product = |sku: &str, price| Product {
            sku: sku.into(),
            title: None,
            category: None,
            brand: None,
            price,
            price_band: 0,
            in_stock: None,
        };
        let mut c = Catalogue::from_products(
            (0..10)
                .map(|i| product(&format!("s{i}"), Some(i * 100)))
                .chain([product("x", None)])
                .collect(),
        );
        c.assign_price_bands();
        let bands: Vec<u8> = c.products.iter().map(|p| p.price_band).collect();
        assert_eq!(bands, [1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 0]);
    }
}
