//! Whole-model checks on synthetic shops where the right answer is known.

use super::interactions::{Action, Interaction, Product};
use super::*;
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400;

/// A shop of `groups` taste groups, each with its own 10 products (one
/// category and brand per group) and a few bestsellers everyone buys.
/// People view products of their group, and buy some; the latest 30 days
/// hold further purchases from the same group.
fn shop(people: usize, groups: usize, seed: u64) -> Interactions {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
    let mut products = Vec::new();
    for g in 0..groups {
        for i in 0..10 {
            products.push(Product {
                sku: format!("g{g}-{i}"),
                title: Some(format!("Group {g} item {i}")),
                category: Some(format!("Category {g}")),
                brand: Some(format!("Brand {g}")),
                price: Some(1000 + (i as i64) * 500),
                price_band: 0,
                in_stock: Some(true),
            });
        }
    }
    for i in 0..5 {
        products.push(Product {
            sku: format!("best-{i}"),
            title: None,
            category: Some("Bestsellers".into()),
            brand: None,
            price: Some(999),
            price_band: 0,
            in_stock: Some(true),
        });
    }
    let bestsellers = groups * 10;
    let mut rows = Vec::new();
    let end = 1_000 * DAY;
    for u in 0..people {
        let g = u % groups;
        let item = |rng: &mut rand_chacha::ChaCha8Rng| (g * 10 + rng.random_range(0..10)) as u32;
        for _ in 0..6 {
            let at = end - rng.random_range(31..300) * DAY;
            let i = item(&mut rng);
            rows.push(Interaction {
                user: u as u32,
                item: i,
                at,
                action: Action::View,
                quantity: 1.0,
            });
            if rng.random_bool(0.4) {
                rows.push(Interaction {
                    user: u as u32,
                    item: i,
                    at,
                    action: Action::Purchase,
                    quantity: 1.0,
                });
            }
        }
        // Everyone buys a bestseller now and then, in both periods.
        for _ in 0..2 {
            let at = end - rng.random_range(0..300) * DAY;
            let i = (bestsellers + rng.random_range(0..5)) as u32;
            rows.push(Interaction {
                user: u as u32,
                item: i,
                at,
                action: Action::Purchase,
                quantity: 1.0,
            });
        }
        let at = end - rng.random_range(0..30) * DAY;
        rows.push(Interaction {
            user: u as u32,
            item: item(&mut rng),
            at,
            action: Action::Purchase,
            quantity: 1.0,
        });
    }
    let mut catalogue = Catalogue::from_products(products);
    catalogue_bands(&mut catalogue);
    Interactions::from_parts((1..=people as i64).collect(), catalogue, rows)
}

fn catalogue_bands(c: &mut Catalogue) {
    for p in &mut c.products {
        p.price_band = 1 + (p.price.unwrap_or(0) / 1000).min(4) as u8;
    }
}

fn quick() -> Settings {
    Settings {
        grid_search: false,
        als: AlsConfig {
            factors: 16,
            iterations: 10,
            ..AlsConfig::default()
        },
        ..Settings::default()
    }
}

#[test]
fn collaborative_models_beat_popularity_where_tastes_differ() {
    let data = shop(600, 6, 7);
    let e = evaluate(&data, &quick(), None, &mut |_, _, _| true).unwrap();
    let ndcg = |k| e.scores(k).unwrap().test.ndcg;
    let pop = ndcg(ModelKind::Popularity);
    assert!(e.scores(ModelKind::Popularity).unwrap().test.profiles > 300);
    for k in [
        ModelKind::ItemKnn,
        ModelKind::Als,
        ModelKind::Content,
        ModelKind::Hybrid,
    ] {
        assert!(
            ndcg(k) > pop * 1.5,
            "{k:?}: {} vs popularity {pop}",
            ndcg(k)
        );
    }
    // Every metric lies in [0, 1]; coverage grows past the bestsellers.
    for m in &e.models {
        for v in [
            m.test.precision,
            m.test.recall,
            m.test.ndcg,
            m.test.map,
            m.test.coverage,
        ] {
            assert!((0.0..=1.0).contains(&v), "{m:?}");
        }
    }
    assert!(
        e.scores(ModelKind::ItemKnn).unwrap().test.coverage
            > e.scores(ModelKind::Popularity).unwrap().test.coverage
    );
    assert_ne!(e.best, ModelKind::Popularity);
}

#[test]
fn grid_search_tries_every_point_and_keeps_the_best() {
    let data = shop(300, 4, 3);
    let mut s = quick();
    s.grid_search = true;
    let e = evaluate(&data, &s, None, &mut |_, _, _| true).unwrap();
    let knn: Vec<&GridPoint> = e
        .grid
        .iter()
        .filter(|g| g.model == ModelKind::ItemKnn)
        .collect();
    assert_eq!(knn.len(), 9);
    assert_eq!(
        e.grid.iter().filter(|g| g.model == ModelKind::Als).count(),
        12
    );
    let best = knn
        .iter()
        .map(|g| g.validation_ndcg)
        .fold(f64::MIN, f64::max);
    assert_eq!(e.scores(ModelKind::ItemKnn).unwrap().validation_ndcg, best);
    let chosen = &e.scores(ModelKind::ItemKnn).unwrap().parameters;
    assert!(knn
        .iter()
        .any(|g| &g.parameters == chosen && g.validation_ndcg == best));
}

#[test]
fn recommendations_explain_themselves_and_follow_the_rules() {
    let data = shop(300, 3, 11);
    let m = data.matrix(&Weights::default(), 1_000 * DAY, |_| true);
    let settings = quick();
    for kind in ModelKind::ALL {
        let fitted = Fitted::fit(
            kind,
            &m,
            &data.catalogue,
            None,
            &settings,
            &mut |_, _, _| true,
        )
        .unwrap();
        let rules = Rules {
            excluded_categories: vec!["Bestsellers".into()],
            ..Rules::default()
        };
        let applied = Applied::new(&rules, &data.catalogue, &fitted.content);
        let (items, values) = m.row(0);
        let mut bought: Vec<u32> = data
            .rows
            .iter()
            .filter(|r| r.user == 0 && r.action == Action::Purchase)
            .map(|r| r.item)
            .collect();
        bought.sort_unstable();
        bought.dedup();
        let picks = fitted.recommend(
            &data.catalogue,
            &applied,
            0,
            (items, values),
            &bought,
            None,
            5,
            &mut Vec::new(),
        );
        assert_eq!(picks.len(), 5, "{kind:?}");
        for p in &picks {
            let product = &data.catalogue.products[p.item as usize];
            assert_ne!(product.category.as_deref(), Some("Bestsellers"), "{kind:?}");
            assert!(
                !bought.contains(&p.item),
                "{kind:?} recommended a purchase again"
            );
            assert!(!p.explanation.text.is_empty());
            if let Some(b) = &p.explanation.because {
                let i = data.catalogue.index_of(b).unwrap();
                assert!(
                    items.contains(&i),
                    "{kind:?}: the explanation names {b}, not in the history"
                );
            }
        }
        if kind != ModelKind::Popularity {
            // Profile 0 is in group 0: its list starts with group 0's products.
            let first = &data.catalogue.products[picks[0].item as usize];
            assert_eq!(first.category.as_deref(), Some("Category 0"), "{kind:?}");
            assert!(
                picks[0].explanation.because.is_some(),
                "{kind:?}: {:?}",
                picks[0]
            );
        }
        // No history: the popular list, said so.
        let cold = fitted.recommend(
            &data.catalogue,
            &applied,
            0,
            (&[], &[]),
            &[],
            None,
            3,
            &mut Vec::new(),
        );
        assert_eq!(cold.len(), 3);
        assert!(cold
            .iter()
            .all(|p| p.explanation.text.starts_with("Popular")));
    }
}

#[test]
fn content_model_reaches_products_nobody_bought_yet() {
    let mut data = shop(200, 2, 5);
    data.catalogue = {
        let mut products = data.catalogue.products.clone();
        products.push(Product {
            sku: "new-in-0".into(),
            title: Some("New arrival".into()),
            category: Some("Category 0".into()),
            brand: Some("Brand 0".into()),
            price: Some(1500),
            price_band: 0,
            in_stock: Some(true),
        });
        let mut c = Catalogue::from_products(products);
        catalogue_bands(&mut c);
        c
    };
    let m = data.matrix(&Weights::default(), 1_000 * DAY, |_| true);
    let new = data.catalogue.index_of("new-in-0").unwrap();
    let content = Fitted::fit(
        ModelKind::Content,
        &m,
        &data.catalogue,
        None,
        &quick(),
        &mut |_, _, _| true,
    )
    .unwrap();
    let mut scores = vec![0.0; data.catalogue.len()];
    content.scores(0, m.row(0).0, m.row(0).1, None, &mut scores);
    assert!(scores[new as usize] > 0.0);
    let knn = Fitted::fit(
        ModelKind::ItemKnn,
        &m,
        &data.catalogue,
        None,
        &quick(),
        &mut |_, _, _| true,
    )
    .unwrap();
    let mut scores = vec![0.0; data.catalogue.len()];
    knn.scores(0, m.row(0).0, m.row(0).1, None, &mut scores);
    assert_eq!(
        scores[new as usize], 0.0,
        "item-item cannot know a product nobody touched"
    );
}

#[test]
fn top_n_is_sorted_with_ties_by_index() {
    let mut v = vec![(3, 1.0), (1, 2.0), (2, 1.0), (0, 0.5)];
    top_n(&mut v, 3);
    assert_eq!(v, [(1, 2.0), (2, 1.0), (3, 1.0)]);
}

/// Every profile's purchases, sorted, as the stored lists see them.
fn purchases(data: &Interactions) -> Vec<Vec<u32>> {
    data.purchased_before(i64::MAX)
}

#[test]
fn the_fast_als_path_gives_the_plain_lists() {
    let data = shop(500, 5, 21);
    let m = data.matrix(&Weights::default(), 1_000 * DAY, |_| true);
    let fitted = Fitted::fit(
        ModelKind::Als,
        &m,
        &data.catalogue,
        None,
        &quick(),
        &mut |_, _, _| true,
    )
    .unwrap();
    let purchased = purchases(&data);
    let users: Vec<usize> = (0..data.profiles.len()).collect();
    // Groups for the popularity fill-up, and rule sets that reach into
    // the candidates: a boost from below (a product far down must still
    // make it), burying, replenishment (purchases allowed back), a cap.
    let groups: Vec<Option<u32>> = (0..data.profiles.len())
        .map(|u| Some((u % 3) as u32))
        .collect();
    let rule_sets = [
        Rules::default(),
        Rules {
            boosts: vec![
                Boost {
                    target: "Category 4".into(),
                    factor: 50.0,
                },
                Boost {
                    target: "g0-3".into(),
                    factor: 0.01,
                },
            ],
            replenishable_categories: vec!["Bestsellers".into()],
            max_per_category: 2,
            ..Rules::default()
        },
        Rules {
            excluded_categories: vec!["Category 0".into(), "Category 1".into()],
            exclude_out_of_stock: true,
            ..Rules::default()
        },
    ];
    let mut fast_used = 0;
    for rules in &rule_sets {
        let applied = Applied::new(rules, &data.catalogue, &fitted.content);
        let (fast, fallbacks) = fitted.recommend_many_counted(
            &data.catalogue,
            &applied,
            &m,
            &users,
            &purchased,
            Some(&groups),
            10,
        );
        fast_used += users.len() - fallbacks;
        for &u in &users {
            let plain = fitted.recommend(
                &data.catalogue,
                &applied,
                u,
                m.row(u),
                &purchased[u],
                groups[u],
                10,
                &mut Vec::new(),
            );
            assert_eq!(fast[u], plain, "profile {u} with {rules:?}");
        }
    }
    // The comparison means something only if the fast path ran.
    assert!(
        fast_used > users.len(),
        "{fast_used} lists of {} went the fast way",
        3 * users.len()
    );
}

#[test]
fn the_hybrid_keeps_a_slot_for_a_new_arrival_of_a_liked_category() {
    let mut data = shop(300, 3, 5);
    let mut products = data.catalogue.products.clone();
    for (sku, category, brand) in [
        ("new-0", "Category 0", "Brand 0"),
        ("new-1", "Category 1", "Brand 1"),
    ] {
        products.push(Product {
            sku: sku.into(),
            title: Some(format!("New {sku}")),
            category: Some(category.into()),
            brand: Some(brand.into()),
            price: Some(1500),
            price_band: 0,
            in_stock: Some(true),
        });
    }
    data.catalogue = Catalogue::from_products(products);
    catalogue_bands(&mut data.catalogue);
    let m = data.matrix(&Weights::default(), 1_000 * DAY, |_| true);
    let purchased = purchases(&data);
    let users: Vec<usize> = (0..data.profiles.len()).collect();
    let new0 = data.catalogue.index_of("new-0").unwrap();
    let new1 = data.catalogue.index_of("new-1").unwrap();
    // The default blend, where content alone lifts the new products of a
    // small shop into some lists; a blend where content weighs so little
    // that only the reserved slot can bring them in; no content at all
    // (no slot); and item-item, which cannot know them.
    let blends = [
        (ModelKind::Hybrid, Settings::default().hybrid),
        (ModelKind::Hybrid, [0.45, 0.35, 1e-4, 0.05]),
        (ModelKind::Hybrid, [0.45, 0.35, 0.0, 0.05]),
        (ModelKind::ItemKnn, Settings::default().hybrid),
    ];
    for (kind, hybrid) in blends {
        let settings = Settings { hybrid, ..quick() };
        let fitted = Fitted::fit(
            kind,
            &m,
            &data.catalogue,
            None,
            &settings,
            &mut |_, _, _| true,
        )
        .unwrap();
        let applied = Applied::new(&Rules::default(), &data.catalogue, &fitted.content);
        let lists =
            fitted.recommend_many(&data.catalogue, &applied, &m, &users, &purchased, None, 10);
        for (u, list) in lists.iter().enumerate() {
            assert_eq!(list.len(), 10);
            let new: Vec<&Pick> = list
                .iter()
                .filter(|p| p.item == new0 || p.item == new1)
                .collect();
            if kind != ModelKind::Hybrid || hybrid[2] == 0.0 {
                assert!(new.is_empty(), "{kind:?} {hybrid:?}: {list:?}");
                continue;
            }
            // Profile u is in taste group u % 3: group 0 and 1 get their
            // group's new arrival, explained by what it shares with their
            // history; group 2 has no new product of its own and keeps
            // its ten model picks.
            match u % 3 {
                2 => assert!(new.is_empty(), "profile {u}: {list:?}"),
                g => {
                    assert_eq!(new.len(), 1, "profile {u}: {list:?}");
                    let p = new[0];
                    assert_eq!(p.item, if g == 0 { new0 } else { new1 });
                    assert!(
                        p.explanation
                            .text
                            .starts_with("New arrival in the same category as Group"),
                        "{p:?}"
                    );
                    let b = data
                        .catalogue
                        .index_of(p.explanation.because.as_deref().unwrap())
                        .unwrap();
                    assert!(m.row(u).0.contains(&b), "{p:?}");
                    // Scores stay in rank order.
                    assert!(list.windows(2).all(|w| w[0].score >= w[1].score));
                }
            }
        }
    }
}
