//! The recommendation commands: requests in, engine calls, the API types
//! out. `cohort::recommend` decides everything; its settings, runs and
//! lists are already the JSON the UI reads.

use serde::{Deserialize, Serialize};
use ts_rs::TS;

use super::ApiError;
use crate::progress::Progress;
use crate::recommend::{self, RecommendError, RunSummary, Settings};
use crate::store::Workspace;

impl From<RecommendError> for ApiError {
    fn from(e: RecommendError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// The Recommendations page: the latest run (with its evaluation and
/// charts) and the settings a new run starts from.
#[derive(Debug, Clone, Serialize, TS)]
#[ts(export)]
pub struct RecommendStatus {
    pub run: Option<RunSummary>,
    pub charts: Vec<super::types::ChartSvg>,
    pub defaults: Settings,
    /// Products in the catalogue (and seen in orders or events).
    pub products: u64,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct RecommendProfileRequest {
    pub profile_id: i64,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct RecommendSimilarRequest {
    pub sku: String,
}

#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct ProductSearchRequest {
    pub query: String,
    #[serde(default)]
    pub limit: Option<u32>,
}

pub fn status(ws: &Workspace) -> Result<RecommendStatus, ApiError> {
    let run = recommend::latest_run(ws.conn())?;
    let charts = run
        .as_ref()
        .and_then(|r| r.evaluation.as_ref())
        .map(|e| super::svg_charts(recommend::charts(e)))
        .unwrap_or_default();
    Ok(RecommendStatus {
        run,
        charts,
        defaults: Settings::default(),
        products: recommend::product_count(ws.conn())?,
    })
}

pub fn train(
    ws: &mut Workspace,
    settings: &Settings,
    now: &str,
    progress: &mut dyn Progress,
) -> Result<RecommendStatus, ApiError> {
    recommend::train(ws, settings, now, progress)?;
    status(ws)
}
