//! Insights end to end on a demo business: `cohort demo --import` (which
//! resolves and computes traits), clustering through the engine and the
//! CLI, a cluster saved as a segment, charts written as files.

use std::process::Command;

use cohort::cluster::runs::{self, ClusterRequest};
use cohort::cluster::{Algorithm, Config};
use cohort::progress::Silent;
use cohort::store::Workspace;

use crate::support::Scratch;

fn cohort(ws: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).to_string(),
        String::from_utf8_lossy(&out.stderr).to_string(),
    )
}

fn request(k: usize) -> ClusterRequest {
    ClusterRequest {
        features: ["orders", "revenue", "days_since_last_order", "clv"]
            .map(String::from)
            .to_vec(),
        config: Config {
            algorithm: Algorithm::KMeans { k: Some(k) },
            ..Config::default()
        },
    }
}

#[test]
fn demo_traits_clusters_segments_and_charts() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    let demo = s.path("demo");
    let (ok, _, err) = cohort(
        &ws_path,
        &[
            "demo",
            "--customers",
            "1000",
            "--import",
            "--out",
            demo.to_str().unwrap(),
        ],
    );
    assert!(ok, "{err}");

    // The demo comes with traits and fitted models.
    let (ok, out, err) = cohort(&ws_path, &["--json", "traits", "summary"]);
    assert!(ok, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&out).unwrap();
    let buyers = summary["buyers"].as_u64().unwrap();
    assert!(buyers > 300, "{buyers} buyers");
    let bg = &summary["model"]["bgnbd"];
    for p in ["r", "alpha", "a", "b"] {
        assert!(bg[p].as_f64().unwrap() > 0.0, "BG/NBD {p} fitted: {bg}");
    }
    let segmented: u64 = summary["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["customers"].as_u64().unwrap())
        .sum();
    assert_eq!(
        segmented, buyers,
        "every buyer is in exactly one RFM segment"
    );

    // Same traits and seed: same clusters; a renamed cluster keeps its name.
    let mut ws = Workspace::open_existing(&ws_path).unwrap();
    let first = runs::run(&mut ws, &request(3), "2026-11-01T00:00:00Z", &mut Silent).unwrap();
    assert_eq!(first.result.clusters.len(), 3);
    assert_eq!(
        first
            .result
            .clusters
            .iter()
            .map(|c| c.size as u64)
            .sum::<u64>(),
        buyers
    );
    assert!(first
        .result
        .clusters
        .iter()
        .all(|c| !c.description.is_empty()));
    let id = first.result.clusters[0].id;
    runs::rename(ws.conn(), first.id, id, "Our best").unwrap();
    let second = runs::run(&mut ws, &request(3), "2026-11-01T00:00:01Z", &mut Silent).unwrap();
    let sizes = |r: &runs::SavedRun| {
        r.result
            .clusters
            .iter()
            .map(|c| (c.id, c.size))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sizes(&first),
        sizes(&second),
        "reruns give the same clusters"
    );
    let kept = second.result.clusters.iter().find(|c| c.id == id).unwrap();
    assert_eq!(kept.name, "Our best");

    // Save as a segment: its members are the cluster's profiles.
    let segment =
        runs::save_segment(ws.conn_mut(), second.id, id, None, "2026-11-01T00:00:02Z").unwrap();
    assert_eq!(segment.name, "Our best");
    assert_eq!(segment.members, kept.size as u64);
    let in_cluster: i64 = ws
        .conn()
        .query_row(
            "SELECT count(*) FROM segment_members m JOIN cluster_members c
                ON c.profile_id = m.profile_id AND c.run_id = ?1 AND c.cluster = ?2
              WHERE m.segment_id = ?3",
            rusqlite::params![second.id, id, segment.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(in_cluster as u64, segment.members);
    // A second segment of the same name is refused and changes nothing.
    assert!(runs::save_segment(ws.conn_mut(), second.id, id, None, "x").is_err());
    assert!(matches!(
        runs::run(
            &mut ws,
            &ClusterRequest {
                features: vec!["shoe_size".into()],
                config: Config::default()
            },
            "x",
            &mut Silent
        ),
        Err(runs::RunError::UnknownTrait(..))
    ));
    drop(ws);

    // The CLI: a DBSCAN run, the segment list, charts as SVG and PNG.
    let (ok, out, err) = cohort(
        &ws_path,
        &[
            "--json",
            "cluster",
            "run",
            "--algorithm",
            "dbscan",
            "--eps",
            "0.8",
            "--min-points",
            "5",
        ],
    );
    assert!(ok, "{err}");
    let run: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        run["result"]["silhouette"].is_number()
            || run["result"]["clusters"].as_array().unwrap().len() < 2
    );
    let (ok, out, _) = cohort(&ws_path, &["segments"]);
    assert!(ok && out.contains("Our best"), "{out}");
    // The traits the CLI offers include this workspace's category shares.
    let (ok, out, err) = cohort(&ws_path, &["--json", "cluster", "traits"]);
    assert!(ok, "{err}");
    let offered: Vec<serde_json::Value> = serde_json::from_str(&out).unwrap();
    let names: Vec<&str> = offered
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"rfm_recency"), "{names:?}");
    assert!(
        names.iter().any(|n| n.starts_with("category_share:")),
        "{names:?}"
    );
    for (name, file, run) in [
        ("rfm_grid", "rfm.svg", None),
        ("clv_distribution", "clv.png", None),
        (
            "cluster_scatter",
            "scatter.png",
            Some(second.id.to_string()),
        ),
    ] {
        let path = s.path(file);
        let mut args = vec!["chart", name, "--out", path.to_str().unwrap()];
        if let Some(r) = &run {
            args.extend(["--run", r.as_str()]);
        }
        let (ok, _, err) = cohort(&ws_path, &args);
        assert!(ok, "{name}: {err}");
        let bytes = std::fs::read(&path).unwrap();
        if file.ends_with(".png") {
            assert_eq!(bytes[..8], cohort::charts::PNG_MAGIC, "{name}");
        } else {
            let svg = String::from_utf8(bytes).unwrap();
            assert!(svg.starts_with("<svg") && svg.contains("recency"), "{name}");
        }
    }
    let (ok, _, err) = cohort(
        &ws_path,
        &["chart", "nope", "--out", s.path("x.svg").to_str().unwrap()],
    );
    assert!(!ok && err.contains("the charts are rfm_grid"), "{err}");
}
