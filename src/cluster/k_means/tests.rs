use super::*;
use crate::cluster::testdata::{adjusted_rand, axis_centres, blobs};

#[test]
fn well_separated_blobs_are_recovered() {
    let (data, truth) = blobs(&axis_centres(4, 3, 10.0), 500, 0.8, 1);
    let found = fit(data.view(), &KMeansParams::new(4, 7)).unwrap();
    let labels: Vec<usize> = found.labels.iter().map(|&l| l as usize).collect();
    let ari = adjusted_rand(&truth, &labels);
    assert!(ari >= 0.99, "adjusted Rand {ari}");
    assert!(found.converged);
    // The inertia is what the labels and centroids say it is.
    let (again, inertia) = predict(data.view(), found.centroids.view());
    assert_eq!(again, found.labels);
    assert!((inertia - found.inertia).abs() < 1e-9 * inertia);
}

#[test]
fn same_seed_gives_identical_labels() {
    let (data, _) = blobs(&axis_centres(6, 4, 3.0), 1000, 1.5, 2);
    let a = fit(data.view(), &KMeansParams::new(6, 11)).unwrap();
    let b = fit(data.view(), &KMeansParams::new(6, 11)).unwrap();
    assert_eq!(a.labels, b.labels);
    assert_eq!(a.centroids, b.centroids);
    assert_eq!(a.inertia.to_bits(), b.inertia.to_bits());
}

#[test]
fn duplicate_rows_leave_no_cluster_empty() {
    // Three distinct points, many copies: k = 3 must find all three (inertia 0).
    let mut data = Array2::zeros((300, 2));
    for i in 0..300 {
        data[[i, 0]] = (i % 3) as f64;
    }
    let found = fit(data.view(), &KMeansParams::new(3, 3)).unwrap();
    assert_eq!(found.inertia, 0.0);
    let mut used: Vec<u32> = found.labels.clone();
    used.sort_unstable();
    used.dedup();
    assert_eq!(used, vec![0, 1, 2]);
}

#[test]
fn starting_centroids_are_checked() {
    let (data, _) = blobs(&axis_centres(2, 2, 5.0), 10, 0.1, 3);
    let params = KMeansParams {
        init: Init::Centroids(Array2::zeros((3, 2))),
        ..KMeansParams::new(2, 0)
    };
    assert!(matches!(
        fit(data.view(), &params),
        Err(ClusterError::InvalidConfig(_))
    ));
    assert!(matches!(
        fit(data.view(), &KMeansParams::new(50, 0)),
        Err(ClusterError::TooFewRows { .. })
    ));
}

#[test]
fn chosen_k_is_the_true_k_on_blobs() {
    for true_k in [3, 5] {
        let (data, _) = blobs(&axis_centres(true_k, true_k, 8.0), 200, 1.0, 4);
        let search =
            choose_k(data.view(), 2..=10, 5, 50_000, 2_000, 3, &mut |_, _| Ok(())).unwrap();
        assert_eq!(search.best_k, true_k, "{:?}", search.silhouette_by_k);
        assert_eq!(search.elbow.len(), 9);
        assert_eq!(search.silhouette_by_k.len(), 9);
        // The elbow falls steeply up to the true k, then flattens.
        let inertia = |k: usize| search.elbow.iter().find(|e| e.0 == k).unwrap().1;
        assert!(inertia(true_k - 1) > 3.0 * inertia(true_k));
        assert!(inertia(true_k) < 1.5 * inertia(true_k + 1));
    }
}

#[test]
fn more_seedings_never_do_worse() {
    let (data, _) = blobs(&axis_centres(8, 4, 2.5), 250, 1.0, 6);
    for seed in 0..2 {
        let single = fit(data.view(), &KMeansParams::new(8, seed)).unwrap();
        let several = fit(
            data.view(),
            &KMeansParams {
                sample_inits: 4,
                ..KMeansParams::new(8, seed)
            },
        )
        .unwrap();
        assert!(several.inertia <= single.inertia + 1e-9 * single.inertia);
    }
}
