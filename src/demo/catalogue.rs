//! The shop's product catalogue: an outdoor and sports retailer with a dozen
//! categories, a few brands each, log-normal prices and Zipf popularity.
//!
//! Each product in an "anchor" category (shoes, boots, bikes, tents, …) has
//! one companion product in a complementary category (socks, bottles,
//! headlamps, …) that is often bought with it, so item-to-item
//! recommendations have real co-purchase pairs to find.

use std::collections::HashSet;

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, StandardNormal};

/// A product category and how its products are made up.
#[derive(Debug)]
pub(crate) struct Category {
    pub name: &'static str,
    /// Prefix of the category's SKUs.
    prefix: &'static str,
    /// URL handle of the category's collection page.
    pub handle: &'static str,
    /// Share of shopping interest.
    weight: f64,
    median_dollars: f64,
    /// Spread of log-prices.
    sigma: f64,
    brands: &'static [&'static str],
    kinds: &'static [&'static str],
    models: &'static [&'static str],
    variants: &'static [&'static str],
    /// The category whose products are bought alongside this one's.
    companion: Option<&'static str>,
    /// Consumables are bought several at a time.
    pub max_qty: u32,
}

#[derive(Debug, Clone)]
pub(crate) struct Product {
    pub sku: String,
    pub title: String,
    pub handle: String,
    pub category: usize,
    pub brand: &'static str,
    pub price_cents: i64,
    /// Crossed-out price when the product is on sale.
    pub compare_at_cents: Option<i64>,
    pub in_stock: bool,
    /// Index of the product most often bought with this one.
    pub companion: Option<u32>,
}

#[derive(Debug)]
pub(crate) struct Catalogue {
    pub products: Vec<Product>,
    /// Product indices per category.
    by_category: Vec<Vec<u32>>,
    /// Cumulative popularity inside each category, aligned with `by_category`.
    category_cdf: Vec<Vec<f64>>,
    /// Cumulative popularity over all products.
    global_cdf: Vec<f64>,
    /// Cumulative category interest.
    interest_cdf: Vec<f64>,
}

/// New arrivals per category (see [`Catalogue::add_new_arrivals`]).
pub(crate) const NEW_ARRIVALS: usize = 2;

pub(crate) fn categories() -> &'static [Category] {
    CATEGORIES
}

impl Catalogue {
    /// Builds the catalogue from its own random stream, so that the same seed
    /// gives the same products whatever the number of customers.
    pub(crate) fn build(rng: &mut ChaCha8Rng) -> Self {
        let mut products = Vec::new();
        let mut by_category = Vec::new();
        let mut category_cdf = Vec::new();
        let mut handles = HashSet::new();
        let mut popularity = Vec::new();
        for (ci, cat) in CATEGORIES.iter().enumerate() {
            let count = rng.random_range(30..=48_usize);
            let mut members = Vec::with_capacity(count);
            let mut sku_number = 1000 + rng.random_range(0..50_u32);
            for j in 0..count {
                sku_number += rng.random_range(1..=9);
                let brand = cat.brands[rng.random_range(0..cat.brands.len())];
                let model = cat.models[rng.random_range(0..cat.models.len())];
                let kind = cat.kinds[(j + rng.random_range(0..cat.kinds.len())) % cat.kinds.len()];
                let version = match rng.random_range(0..10) {
                    0..=5 => String::new(),
                    v => format!(" {}", v - 4),
                };
                let mut title = format!("{brand} {model}{version} {kind}");
                if !cat.variants.is_empty() {
                    title.push_str(" - ");
                    title.push_str(cat.variants[rng.random_range(0..cat.variants.len())]);
                }
                let mut handle = slug(&title);
                if !handles.insert(handle.clone()) {
                    handle = format!("{handle}-{sku_number}");
                    handles.insert(handle.clone());
                }
                let price_cents = price(rng, cat.median_dollars, cat.sigma);
                let compare_at_cents = rng.random_bool(0.12).then(|| {
                    let up = price_cents as f64 * rng.random_range(1.15..1.45);
                    (up / 100.0).floor() as i64 * 100 + 99
                });
                members.push(products.len() as u32);
                products.push(Product {
                    sku: format!("{}-{sku_number}", cat.prefix),
                    title,
                    handle,
                    category: ci,
                    brand,
                    price_cents,
                    compare_at_cents,
                    in_stock: !rng.random_bool(0.08),
                    companion: None,
                });
            }
            // Popularity follows a Zipf law over a random ranking, so the
            // best sellers are not simply the first SKUs.
            let mut ranks: Vec<usize> = (0..count).collect();
            for i in (1..count).rev() {
                ranks.swap(i, rng.random_range(0..=i));
            }
            let weights: Vec<f64> = ranks
                .iter()
                .map(|&r| 1.0 / ((r + 1) as f64).powf(1.1))
                .collect();
            let sum: f64 = weights.iter().sum();
            let mut acc = 0.0;
            let mut cdf = Vec::with_capacity(count);
            for w in &weights {
                acc += w / sum;
                cdf.push(acc);
                popularity.push(cat.weight * w / sum);
            }
            by_category.push(members);
            category_cdf.push(cdf);
        }
        let mut acc = 0.0;
        let global_cdf = popularity
            .iter()
            .map(|p| {
                acc += p;
                acc
            })
            .collect();
        let mut acc = 0.0;
        let interest_cdf = CATEGORIES
            .iter()
            .map(|c| {
                acc += c.weight;
                acc
            })
            .collect();
        let mut catalogue = Self {
            products,
            by_category,
            category_cdf,
            global_cdf,
            interest_cdf,
        };
        for i in 0..catalogue.products.len() {
            let cat = &CATEGORIES[catalogue.products[i].category];
            if let Some(companion) = cat.companion {
                let ci = CATEGORIES
                    .iter()
                    .position(|c| c.name == companion)
                    .expect("companion category exists");
                let mut pick = catalogue.pick_in_category(rng, ci);
                if pick as usize == i {
                    pick = catalogue.by_category[ci][0];
                }
                if pick as usize != i {
                    catalogue.products[i].companion = Some(pick);
                }
            }
        }
        catalogue.add_new_arrivals(rng);
        catalogue
    }

    /// Two products per category that arrived days ago: in stock and in
    /// `products.csv`, but in no category's or the shop's popularity, so no
    /// customer has viewed or bought them. They are what a content-based
    /// cold start is for (the hybrid recommender's new-arrival slot).
    /// Drawn last from the catalogue's stream, so the rest of the shop and
    /// every customer are the same as without them.
    fn add_new_arrivals(&mut self, rng: &mut ChaCha8Rng) {
        for (ci, cat) in CATEGORIES.iter().enumerate() {
            for j in 0..NEW_ARRIVALS {
                let brand = cat.brands[rng.random_range(0..cat.brands.len())];
                let model = cat.models[rng.random_range(0..cat.models.len())];
                let kind = cat.kinds[rng.random_range(0..cat.kinds.len())];
                let title = format!("{brand} {model} {kind} (new season)");
                let number = 5000 + j as u32;
                self.products.push(Product {
                    sku: format!("{}-{number}", cat.prefix),
                    handle: format!("{}-{number}", slug(&title)),
                    title,
                    category: ci,
                    brand,
                    price_cents: price(rng, cat.median_dollars, cat.sigma),
                    compare_at_cents: None,
                    in_stock: true,
                    companion: None,
                });
            }
        }
    }

    /// A category, in proportion to shoppers' interest.
    pub(crate) fn pick_category(&self, rng: &mut ChaCha8Rng) -> usize {
        pick(&self.interest_cdf, rng)
    }

    /// A product of the category, popular ones more often.
    pub(crate) fn pick_in_category(&self, rng: &mut ChaCha8Rng, category: usize) -> u32 {
        self.by_category[category][pick(&self.category_cdf[category], rng)]
    }

    /// A product from the whole shop, popular ones more often.
    pub(crate) fn pick_popular(&self, rng: &mut ChaCha8Rng) -> u32 {
        pick(&self.global_cdf, rng) as u32
    }

    pub(crate) fn product(&self, index: u32) -> &Product {
        &self.products[index as usize]
    }
}

/// `Stridewell Velox 2 Road Running Shoe - Men's` → `stridewell-velox-2-road-running-shoe-mens`.
pub(crate) fn slug(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if (c == ' ' || c == '-' || c == '/') && !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    while out.ends_with('-') {
        out.pop();
    }
    out
}

fn pick(cdf: &[f64], rng: &mut ChaCha8Rng) -> usize {
    let total = cdf.last().copied().unwrap_or(1.0);
    let x = rng.random::<f64>() * total;
    cdf.partition_point(|&c| c <= x).min(cdf.len() - 1)
}

/// A shelf price: log-normal around the category's median, ending in .99
/// mostly, .95 or .00 otherwise.
fn price(rng: &mut ChaCha8Rng, median: f64, sigma: f64) -> i64 {
    let z: f64 = StandardNormal.sample(rng);
    let dollars = (median * (sigma * z).exp()).max(4.0).floor() as i64;
    let cents = match rng.random_range(0..20) {
        0..=13 => 99,
        14..=16 => 95,
        _ => 0,
    };
    dollars * 100 + cents
}

static CATEGORIES: &[Category] = &[
    Category {
        name: "Running Shoes",
        prefix: "RUN",
        handle: "running-shoes",
        weight: 14.0,
        median_dollars: 124.0,
        sigma: 0.22,
        brands: &[
            "Stridewell",
            "Apex Run",
            "Northpace",
            "Kinetica",
            "Tempo Labs",
        ],
        kinds: &[
            "Road Running Shoe",
            "Trail Running Shoe",
            "Racing Flat",
            "Stability Trainer",
            "Cushioned Trainer",
        ],
        models: &[
            "Velox", "Aero", "Drift", "Pulse", "Glide", "Summit", "Comet", "Torrent", "Ridge",
            "Swift", "Halo",
        ],
        variants: &["Men's", "Women's"],
        companion: Some("Socks"),
        max_qty: 1,
    },
    Category {
        name: "Running Apparel",
        prefix: "APP",
        handle: "running-apparel",
        weight: 10.0,
        median_dollars: 46.0,
        sigma: 0.3,
        brands: &["Stridewell", "Northpace", "Fieldhouse"],
        kinds: &[
            "Running Tee",
            "Running Shorts",
            "Tights",
            "Half-Zip",
            "Running Jacket",
            "Singlet",
        ],
        models: &["Breeze", "Core", "Pace", "Element", "Vapor", "Tempo"],
        variants: &["Men's", "Women's"],
        companion: Some("Nutrition"),
        max_qty: 2,
    },
    Category {
        name: "Socks",
        prefix: "SOC",
        handle: "socks",
        weight: 7.0,
        median_dollars: 16.0,
        sigma: 0.2,
        brands: &["Stridewell", "Loopstitch", "Fieldhouse"],
        kinds: &[
            "Running Socks",
            "Trail Socks",
            "Hiking Socks",
            "Compression Socks",
            "No-Show Socks 3-Pack",
        ],
        models: &["Lite", "Cushion", "Merino", "Pro"],
        variants: &["Black", "White", "Grey"],
        companion: None,
        max_qty: 3,
    },
    Category {
        name: "Yoga",
        prefix: "YOG",
        handle: "yoga",
        weight: 9.0,
        median_dollars: 42.0,
        sigma: 0.35,
        brands: &["Lotus & Oak", "Mantra", "Flowform"],
        kinds: &[
            "Yoga Mat",
            "Yoga Block",
            "Yoga Strap",
            "Leggings",
            "Sports Bra",
            "Mat Towel",
        ],
        models: &["Balance", "Ground", "Zen", "Align", "Prana"],
        variants: &["Sage", "Charcoal", "Rose", "Navy"],
        companion: Some("Yoga"),
        max_qty: 2,
    },
    Category {
        name: "Outdoor Jackets",
        prefix: "JKT",
        handle: "outdoor-jackets",
        weight: 7.0,
        median_dollars: 185.0,
        sigma: 0.3,
        brands: &["Ridgeline", "Alpenglow", "Northpace", "Cairn"],
        kinds: &[
            "Rain Jacket",
            "Insulated Jacket",
            "Softshell",
            "Down Parka",
            "Fleece",
        ],
        models: &["Storm", "Cirrus", "Tundra", "Ascent", "Ember", "Glacier"],
        variants: &["Men's", "Women's"],
        companion: Some("Accessories"),
        max_qty: 1,
    },
    Category {
        name: "Hiking Boots",
        prefix: "HIK",
        handle: "hiking-boots",
        weight: 6.0,
        median_dollars: 155.0,
        sigma: 0.25,
        brands: &["Cairn", "Alpenglow", "Ridgeline"],
        kinds: &[
            "Hiking Boot",
            "Approach Shoe",
            "Hiking Shoe",
            "Mountaineering Boot",
        ],
        models: &["Talus", "Scree", "Granite", "Switchback", "Meridian"],
        variants: &["Men's", "Women's"],
        companion: Some("Socks"),
        max_qty: 1,
    },
    Category {
        name: "Cycling",
        prefix: "CYC",
        handle: "cycling",
        weight: 7.0,
        median_dollars: 85.0,
        sigma: 0.5,
        brands: &["Velocity", "Spoke & Chain", "Aerolite"],
        kinds: &[
            "Road Helmet",
            "Cycling Jersey",
            "Bib Shorts",
            "Cycling Gloves",
            "Bike Light Set",
            "Saddle Bag",
        ],
        models: &["Sprint", "Climb", "Echelon", "Cadence", "Draft"],
        variants: &["Men's", "Women's", "Unisex"],
        companion: Some("Accessories"),
        max_qty: 1,
    },
    Category {
        name: "Swimwear",
        prefix: "SWM",
        handle: "swimwear",
        weight: 5.0,
        median_dollars: 45.0,
        sigma: 0.3,
        brands: &["Tidewater", "Aquaform"],
        kinds: &[
            "Swimsuit",
            "Jammer",
            "Swim Shorts",
            "Rash Guard",
            "Swim Cap",
        ],
        models: &["Lane", "Current", "Riptide", "Marlin"],
        variants: &["Men's", "Women's"],
        companion: Some("Accessories"),
        max_qty: 1,
    },
    Category {
        name: "Accessories",
        prefix: "ACC",
        handle: "accessories",
        weight: 10.0,
        median_dollars: 24.0,
        sigma: 0.45,
        brands: &["Ridgeline", "Fieldhouse", "Tidewater", "Velocity"],
        kinds: &[
            "Water Bottle",
            "Headlamp",
            "Running Cap",
            "Beanie",
            "Swim Goggles",
            "Hydration Vest",
            "Sunglasses",
            "Phone Armband",
        ],
        models: &["Trail", "Classic", "Pro", "Lite", "Max"],
        variants: &["Black", "Blue", "Orange"],
        companion: None,
        max_qty: 2,
    },
    Category {
        name: "Nutrition",
        prefix: "NUT",
        handle: "nutrition",
        weight: 10.0,
        median_dollars: 22.0,
        sigma: 0.3,
        brands: &["Fuelwell", "Peak Nutrition"],
        kinds: &[
            "Energy Gels 12-Pack",
            "Protein Bars 12-Pack",
            "Electrolyte Tabs",
            "Recovery Shake 1kg",
            "Energy Chews",
        ],
        models: &[
            "Citrus",
            "Berry",
            "Salted Caramel",
            "Cola",
            "Vanilla",
            "Chocolate",
        ],
        variants: &[],
        companion: None,
        max_qty: 6,
    },
    Category {
        name: "Fitness Equipment",
        prefix: "FIT",
        handle: "fitness-equipment",
        weight: 6.0,
        median_dollars: 55.0,
        sigma: 0.55,
        brands: &["Ironform", "Flexline"],
        kinds: &[
            "Resistance Bands Set",
            "Kettlebell",
            "Adjustable Dumbbell",
            "Foam Roller",
            "Jump Rope",
            "Pull-Up Bar",
        ],
        models: &["Home", "Studio", "Pro", "Core"],
        variants: &[],
        companion: Some("Fitness Equipment"),
        max_qty: 2,
    },
    Category {
        name: "Camping",
        prefix: "CMP",
        handle: "camping",
        weight: 5.0,
        median_dollars: 110.0,
        sigma: 0.5,
        brands: &["Cairn", "Alpenglow", "Ridgeline"],
        kinds: &[
            "2-Person Tent",
            "Sleeping Bag",
            "Sleeping Pad",
            "Camp Stove",
            "Trekking Poles",
            "Backpack 40L",
        ],
        models: &["Basecamp", "Nomad", "Bivouac", "Trailhead", "Pinnacle"],
        variants: &[],
        companion: Some("Accessories"),
        max_qty: 1,
    },
];

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn catalogue_shape() {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        let c = Catalogue::build(&mut rng);
        assert!(
            (300..=600).contains(&c.products.len()),
            "{}",
            c.products.len()
        );
        assert!(categories().len() >= 10);
        let skus: HashSet<_> = c.products.iter().map(|p| &p.sku).collect();
        assert_eq!(skus.len(), c.products.len());
        let handles: HashSet<_> = c.products.iter().map(|p| &p.handle).collect();
        assert_eq!(handles.len(), c.products.len());
        let out =
            c.products.iter().filter(|p| !p.in_stock).count() as f64 / c.products.len() as f64;
        assert!((0.02..0.16).contains(&out), "{out}");
        // Shoes come with socks.
        let shoe = c
            .products
            .iter()
            .find(|p| p.sku.starts_with("RUN"))
            .unwrap();
        let sock = c.product(shoe.companion.unwrap());
        assert!(sock.sku.starts_with("SOC"));
        // Zipf: the most popular product is picked far more often than the median one.
        let mut counts = vec![0_u32; c.products.len()];
        for _ in 0..50_000 {
            counts[c.pick_popular(&mut rng) as usize] += 1;
        }
        // New arrivals: in stock, in every category, never picked.
        let new: Vec<usize> = (0..c.products.len())
            .filter(|&i| c.products[i].title.ends_with("(new season)"))
            .collect();
        assert_eq!(new.len(), NEW_ARRIVALS * categories().len());
        assert!(new
            .iter()
            .all(|&i| c.products[i].in_stock && counts[i] == 0));
        for ci in 0..categories().len() {
            for _ in 0..2_000 {
                assert!(!new.contains(&(c.pick_in_category(&mut rng, ci) as usize)));
            }
        }
        counts.sort_unstable();
        assert!(counts[counts.len() - 1] > 8 * counts[counts.len() / 2].max(1));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            slug("Lotus & Oak Zen Yoga Mat - Sage"),
            "lotus-oak-zen-yoga-mat-sage"
        );
        assert_eq!(
            slug("Apex Run Velox 2 Racing Flat - Men's"),
            "apex-run-velox-2-racing-flat-mens"
        );
    }
}
