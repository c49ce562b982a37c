//! The whole base at a glance: what the Insights page and its charts show.

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::{currency_scale, rfm, sql, stored_model, Result, TraitsModel};

/// Customers and revenue of one named RFM segment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentFigures {
    pub segment: String,
    /// The rule that puts a customer in it.
    pub rule: String,
    pub customers: u64,
    /// Minor units of the workspace currency.
    pub revenue: i64,
}

/// Customers per churn-risk band.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Band {
    pub label: String,
    pub customers: u64,
}

/// The Insights overview.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Overview {
    pub currency: String,
    /// Profiles with traits (orders or events).
    pub profiles: u64,
    /// Profiles with at least one order.
    pub buyers: u64,
    pub revenue: i64,
    pub average_order_value: Option<i64>,
    /// Customers by recency score (outer, 1..5) and frequency score
    /// (inner, 1..5).
    pub rfm_grid: [[u64; 5]; 5],
    pub segments: Vec<SegmentFigures>,
    /// CLV of every buyer with a prediction, in major units (at most
    /// 20,000, evenly sampled by profile id, for the distribution chart).
    pub clv_sample: Vec<f64>,
    pub churn_bands: Vec<Band>,
    /// Mean predicted CLV (major units).
    pub average_clv: Option<f64>,
    pub model: TraitsModel,
    /// What the predictions mean and assume, in plain words.
    pub model_notes: String,
    pub computed_at: Option<String>,
}

/// Churn-risk bands: lower bound (inclusive) and label.
pub const CHURN_BANDS: [(f64, &str); 4] = [
    (0.0, "Low (< 25%)"),
    (0.25, "Medium (25–50%)"),
    (0.5, "High (50–75%)"),
    (0.75, "Very high (≥ 75%)"),
];

pub fn overview(conn: &Connection) -> Result<Overview> {
    const WHAT: &str = "summarise traits";
    let currency: String = conn
        .query_row(
            "SELECT coalesce((SELECT value FROM settings WHERE key = ?1), ?2)",
            crate::store::setting::DEFAULT_CURRENCY,
            |r| r.get(0),
        )
        .map_err(sql(WHAT))?;
    let (profiles, buyers, revenue, orders, computed_at): (u64, u64, i64, i64, Option<String>) =
        conn.query_row(
            "SELECT count(*), count(*) FILTER (WHERE orders > 0), coalesce(sum(revenue), 0),
                    coalesce(sum(orders), 0), max(as_of)
               FROM profile_traits",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .map_err(sql(WHAT))?;
    let scale = currency_scale(&currency);
    let mut grid = [[0u64; 5]; 5];
    let mut stmt = conn
        .prepare(
            "SELECT rfm_recency, rfm_frequency, count(*) FROM profile_traits
              WHERE rfm_recency IS NOT NULL GROUP BY 1, 2",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let (rec, freq, n): (usize, usize, u64) = (
            r.get(0).map_err(sql(WHAT))?,
            r.get(1).map_err(sql(WHAT))?,
            r.get(2).map_err(sql(WHAT))?,
        );
        if (1..=5).contains(&rec) && (1..=5).contains(&freq) {
            grid[rec - 1][freq - 1] = n;
        }
    }
    drop(rows);
    drop(stmt);
    let mut segments: Vec<SegmentFigures> = rfm::RULES
        .iter()
        .map(|(segment, rule)| SegmentFigures {
            segment: (*segment).to_owned(),
            rule: (*rule).to_owned(),
            customers: 0,
            revenue: 0,
        })
        .collect();
    let mut stmt = conn
        .prepare(
            "SELECT rfm_segment, count(*), coalesce(sum(revenue), 0) FROM profile_traits
              WHERE rfm_segment IS NOT NULL GROUP BY 1",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt.query([]).map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let name: String = r.get(0).map_err(sql(WHAT))?;
        if let Some(s) = segments.iter_mut().find(|s| s.segment == name) {
            s.customers = r.get(1).map_err(sql(WHAT))?;
            s.revenue = r.get(2).map_err(sql(WHAT))?;
        }
    }
    drop(rows);
    drop(stmt);

    let predicted: u64 = conn
        .query_row(
            "SELECT count(*) FROM profile_traits WHERE clv IS NOT NULL",
            [],
            |r| r.get(0),
        )
        .map_err(sql(WHAT))?;
    let step = (predicted / 20_000).max(1);
    let mut stmt = conn
        .prepare(
            "SELECT clv FROM (SELECT clv, row_number() OVER (ORDER BY profile_id) AS n
                                FROM profile_traits WHERE clv IS NOT NULL)
              WHERE (n - 1) % ?1 = 0",
        )
        .map_err(sql(WHAT))?;
    let clv_sample: Vec<f64> = stmt
        .query_map([step], |r| Ok(r.get::<_, i64>(0)? as f64 / scale))
        .map_err(sql(WHAT))?
        .collect::<rusqlite::Result<_>>()
        .map_err(sql(WHAT))?;
    drop(stmt);
    let average_clv: Option<f64> = conn
        .query_row(
            "SELECT avg(clv) / ?1 FROM profile_traits WHERE clv IS NOT NULL",
            [scale],
            |r| r.get(0),
        )
        .map_err(sql(WHAT))?;
    // One pass: each buyer's band is the last lower bound at or below its risk.
    let mut counts = [0u64; CHURN_BANDS.len()];
    let mut stmt = conn
        .prepare(
            "SELECT CASE WHEN churn_risk >= ?3 THEN 3 WHEN churn_risk >= ?2 THEN 2
                         WHEN churn_risk >= ?1 THEN 1 ELSE 0 END, count(*)
               FROM profile_traits WHERE churn_risk IS NOT NULL GROUP BY 1",
        )
        .map_err(sql(WHAT))?;
    let mut rows = stmt
        .query(rusqlite::params![
            CHURN_BANDS[1].0,
            CHURN_BANDS[2].0,
            CHURN_BANDS[3].0
        ])
        .map_err(sql(WHAT))?;
    while let Some(r) = rows.next().map_err(sql(WHAT))? {
        let band: usize = r.get(0).map_err(sql(WHAT))?;
        counts[band] = r.get(1).map_err(sql(WHAT))?;
    }
    drop(rows);
    drop(stmt);
    let churn_bands = CHURN_BANDS
        .iter()
        .zip(counts)
        .map(|((_, label), customers)| Band {
            label: (*label).to_owned(),
            customers,
        })
        .collect();
    Ok(Overview {
        currency,
        profiles,
        buyers,
        revenue,
        average_order_value: (orders > 0).then(|| revenue / orders),
        rfm_grid: grid,
        segments,
        clv_sample,
        churn_bands,
        average_clv,
        model: stored_model(conn)?,
        model_notes: super::models::NOTES.to_owned(),
        computed_at,
    })
}

/// A chart of the overview: a stable name (for `cohort chart NAME` and the
/// app's "save" buttons), what to draw and its title.
#[derive(Debug, Clone)]
pub struct NamedChart {
    pub name: &'static str,
    pub spec: crate::charts::ChartSpec,
    pub options: crate::charts::ChartOptions,
}

/// The overview's charts: RFM grid, revenue by RFM segment, CLV
/// distribution and churn-risk bands.
pub fn charts(o: &Overview) -> Vec<NamedChart> {
    let scale = currency_scale(&o.currency);
    use crate::charts::{BarChart, ChartOptions, ChartSpec, Distribution, RfmGrid, Unit};
    let mut grid = [[0f64; 5]; 5];
    for (r, row) in o.rfm_grid.iter().enumerate() {
        for (f, &n) in row.iter().enumerate() {
            grid[f][r] = n as f64;
        }
    }
    let mut bands = [0u64; 4];
    for (i, b) in o.churn_bands.iter().take(4).enumerate() {
        bands[i] = b.customers;
    }
    vec![
        NamedChart {
            name: "rfm_grid",
            spec: ChartSpec::RfmHeatmap(RfmGrid::from_matrix(grid, "Customers", Unit::Count)),
            options: ChartOptions::new("Customers by recency and frequency score").with_subtitle(
                "RFM scores 1–5 by quintile of buyers; 5 = most recent / most orders",
            ),
        },
        NamedChart {
            name: "revenue_by_segment",
            spec: ChartSpec::Bar(BarChart::revenue_by_segment(
                o.segments
                    .iter()
                    .map(|s| (s.segment.clone(), s.revenue as f64 / scale)),
                &o.currency,
            )),
            options: ChartOptions::new("Revenue by RFM segment"),
        },
        NamedChart {
            name: "clv_distribution",
            spec: ChartSpec::Histogram(
                Distribution::money("Predicted CLV", &o.currency, o.clv_sample.clone())
                    .log_scale(true),
            ),
            options: ChartOptions::new("Predicted customer lifetime value").with_subtitle(format!(
                "BG/NBD × Gamma-Gamma over {} days, per buyer",
                o.model.options.map_or(365, |m| m.horizon_days)
            )),
        },
        NamedChart {
            name: "churn_risk",
            spec: ChartSpec::Bar(BarChart::churn_bands(bands)),
            options: ChartOptions::new("Churn risk (1 − P(alive))"),
        },
    ]
}
