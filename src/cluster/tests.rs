//! End-to-end tests of [`run`].

use std::collections::HashSet;

use ndarray::Array2;

use super::testdata::{adjusted_rand, axis_centres, blobs};
use super::*;
use crate::progress::Silent;

/// One Score feature per column of `data`.
fn columns(data: &Array2<f64>) -> Vec<Feature> {
    data.columns()
        .into_iter()
        .enumerate()
        .map(|(j, c)| {
            Feature::new(
                format!("f{j}"),
                format!("trait {j}"),
                FeatureKind::Score,
                c.iter().map(|&v| Some(v)).collect(),
            )
        })
        .collect()
}

fn labels_of(c: &Clustering) -> Vec<usize> {
    c.labels
        .iter()
        .map(|l| l.expect("labelled") as usize)
        .collect()
}

#[test]
fn chooses_k_and_recovers_blobs() {
    let (data, truth) = blobs(&axis_centres(4, 4, 10.0), 250, 1.0, 11);
    let result = run(&columns(&data), &Config::default(), None, &mut Silent).unwrap();
    assert_eq!(result.k, 4, "{:?}", result.silhouette_by_k);
    assert!(adjusted_rand(&truth, &labels_of(&result)) >= 0.99);
    assert_eq!(result.clusters.iter().map(|c| c.size).sum::<usize>(), 1000);
    assert!((result.clusters.iter().map(|c| c.share).sum::<f64>() - 1.0).abs() < 1e-12);
    assert!(result.clusters.windows(2).all(|w| w[0].size >= w[1].size));
    let names: HashSet<&str> = result.clusters.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names.len(), 4, "names are unique");
    assert!(result.silhouette.unwrap() > 0.7);
    assert!(result.davies_bouldin.unwrap() < 0.5);
    assert_eq!(result.elbow.len(), 9);
    let best = result
        .silhouette_by_k
        .iter()
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .unwrap();
    assert_eq!(best.0, 4);
    // Centroids come back in original units: each near a true centre.
    for c in &result.clusters {
        let near = axis_centres(4, 4, 10.0)
            .iter()
            .any(|t| t.iter().zip(&c.centroid).all(|(a, b)| (a - b).abs() < 0.3));
        assert!(near, "{:?}", c.centroid);
    }
    assert_eq!(result.pca.points.len(), 1000);
    assert_eq!(result.pca.explained.len(), 2);
    assert_eq!(result.next_id, 4);
}

#[test]
fn same_seed_same_result_and_serialises() {
    let (data, _) = blobs(&axis_centres(5, 4, 3.0), 300, 1.2, 12);
    let features = columns(&data);
    let config = Config {
        algorithm: Algorithm::KMeans { k: Some(5) },
        search_rows: 1000,
        silhouette_rows: 1200,
        chart_points: 300,
        ..Config::default()
    };
    let a = run(&features, &config, None, &mut Silent).unwrap();
    let b = run(&features, &config, None, &mut Silent).unwrap();
    assert_eq!(a, b);
    assert!(a.notes.iter().any(|n| n.contains("sample of 1,000")));
    assert!(a
        .notes
        .iter()
        .any(|n| n.contains("chart shows a sample of 300")));
    let json = serde_json::to_string(&a).unwrap();
    let back: Clustering = serde_json::from_str(&json).unwrap();
    assert_eq!(back.labels, a.labels);
    assert!(json.contains(r#""algorithm":{"kind":"k_means","k":5}"#));
}

#[test]
fn ids_stay_put_across_reruns() {
    let (data, _) = blobs(&axis_centres(4, 4, 10.0), 150, 1.0, 13);
    let features = columns(&data);
    let k4 = |seed| Config {
        algorithm: Algorithm::KMeans { k: Some(4) },
        seed,
        ..Config::default()
    };
    let first = run(&features, &k4(1), None, &mut Silent).unwrap();
    // Another seed numbers the clusters differently inside k-means...
    let fresh = run(&features, &k4(2), None, &mut Silent).unwrap();
    // ...but with the previous run given, every profile keeps its id.
    let again = run(&features, &k4(2), Some(&first), &mut Silent).unwrap();
    assert_eq!(again.labels, first.labels);
    assert_eq!(again.next_id, first.next_id);
    assert!(adjusted_rand(&labels_of(&fresh), &labels_of(&again)) > 0.999);

    // One more cluster: the four old ones keep their ids, the new one is 4.
    let k5 = Config {
        algorithm: Algorithm::KMeans { k: Some(5) },
        ..k4(3)
    };
    let split = run(&features, &k5, Some(&first), &mut Silent).unwrap();
    let ids: HashSet<u32> = split.clusters.iter().map(|c| c.id).collect();
    assert!(ids.contains(&4) && ids.len() == 5);
    assert_eq!(split.next_id, 5);
    // Other features: ids start afresh after the previous run's.
    let renamed: Vec<Feature> = features
        .iter()
        .map(|f| Feature::new(format!("{}_v2", f.name), &f.label, f.kind, f.values.clone()))
        .collect();
    let other = run(&renamed, &k4(1), Some(&first), &mut Silent).unwrap();
    assert!(other.clusters.iter().all(|c| c.id >= 4));
    assert!(other.notes.iter().any(|n| n.contains("ids start afresh")));
}

#[test]
fn missing_values_are_reported_and_dropped_rows_unlabelled() {
    let (data, _) = blobs(&axis_centres(2, 2, 10.0), 100, 1.0, 14);
    let mut features = columns(&data);
    features[0].values[3] = None;
    features[0].values[150] = None;
    features[1].values[7] = Some(f64::NAN);
    let config = Config {
        algorithm: Algorithm::KMeans { k: Some(2) },
        prepare: PrepareOptions {
            missing: MissingValues::DropRow,
            ..Default::default()
        },
        ..Config::default()
    };
    let result = run(&features, &config, None, &mut Silent).unwrap();
    assert_eq!(result.missing[0].missing, 2);
    assert_eq!(result.missing[1].missing, 1);
    assert_eq!(result.missing[0].action, MissingAction::DroppedRows);
    for row in [3, 7, 150] {
        assert_eq!(result.labels[row], None);
    }
    assert_eq!(result.labels.iter().flatten().count(), 197);
    assert!(result
        .notes
        .contains(&"2 profiles had no trait 0: left out".to_string()));

    let imputed = run(
        &features,
        &Config {
            prepare: PrepareOptions::default(),
            ..config
        },
        None,
        &mut Silent,
    )
    .unwrap();
    assert_eq!(imputed.labels.iter().flatten().count(), 200);
    assert!(imputed
        .notes
        .iter()
        .any(|n| n.starts_with("2 profiles had no trait 0: filled with the median")));
}

#[test]
fn dbscan_finds_noise() {
    let (data, _) = blobs(&axis_centres(3, 2, 10.0), 200, 0.3, 15);
    let mut features = columns(&data);
    for (j, f) in features.iter_mut().enumerate() {
        f.values.extend([
            Some(60.0 + j as f64),
            Some(-40.0),
            Some(25.0 * j as f64 - 30.0),
        ]);
    }
    let config = Config {
        algorithm: Algorithm::Dbscan {
            eps: 0.3,
            min_points: 5,
        },
        ..Config::default()
    };
    let result = run(&features, &config, None, &mut Silent).unwrap();
    assert_eq!(result.k, 3);
    assert!(result.labels[600..].iter().all(|l| l.is_none()));
    assert!(result.labels[..600].iter().all(|l| l.is_some()));
    assert!(result
        .notes
        .iter()
        .any(|n| n.starts_with("3 profiles (0.5%) are in no dense group")));
    assert!(result.elbow.is_empty());
    assert!(result.inertia.unwrap() > 0.0);
}

#[test]
fn gaussian_mixture_on_two_gaussians() {
    let (data, truth) = blobs(&[vec![0.0, 0.0], vec![5.0, 5.0]], 1000, 1.0, 16);
    let config = Config {
        algorithm: Algorithm::GaussianMixture { k: 2 },
        ..Config::default()
    };
    let result = run(&columns(&data), &config, None, &mut Silent).unwrap();
    assert_eq!(result.k, 2);
    assert!(adjusted_rand(&truth, &labels_of(&result)) > 0.95);
    assert!(result.silhouette.unwrap() > 0.5);
}

#[test]
fn progress_is_reported_and_cancellation_honoured() {
    let (data, _) = blobs(&axis_centres(2, 2, 10.0), 50, 1.0, 17);
    let features = columns(&data);
    let mut stages = Vec::new();
    run(
        &features,
        &Config::default(),
        None,
        &mut ProgressFn(|stage: &str, f: f64| stages.push((stage.to_string(), f))),
    )
    .unwrap();
    assert_eq!(stages.first().unwrap().0, "Preparing traits");
    assert!(stages.contains(&("Choosing the number of clusters".to_string(), 1.0)));
    assert_eq!(stages.last().unwrap(), &("Done".to_string(), 1.0));

    struct StopNow;
    impl Progress for StopNow {
        fn tick(&mut self, _: &Tick<'_>) {}
        fn is_cancelled(&self) -> bool {
            true
        }
    }
    let err = run(&features, &Config::default(), None, &mut StopNow).unwrap_err();
    assert_eq!(err.code(), "cancelled");
}

#[test]
fn bad_settings_and_too_little_data() {
    let (data, _) = blobs(&axis_centres(2, 2, 10.0), 5, 1.0, 18);
    let features = columns(&data);
    let with = |algorithm| Config {
        algorithm,
        ..Config::default()
    };
    for config in [
        with(Algorithm::KMeans { k: Some(1) }),
        with(Algorithm::Dbscan {
            eps: -1.0,
            min_points: 5,
        }),
        with(Algorithm::GaussianMixture { k: 0 }),
        Config {
            min_k: 5,
            max_k: 3,
            ..Config::default()
        },
    ] {
        let err = run(&features, &config, None, &mut Silent).unwrap_err();
        assert_eq!(err.code(), "invalid_config", "{config:?}");
    }
    let err = run(
        &features,
        &with(Algorithm::KMeans { k: Some(10) }),
        None,
        &mut Silent,
    )
    .unwrap_err();
    assert_eq!(err.code(), "too_few_rows");
}
