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
        8
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
        let bought: Vec<u32> = data
            .rows
            .iter()
            .filter(|r| r.user == 0 && r.action == Action::Purchase)
            .map(|r| r.item)
            .collect();
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
