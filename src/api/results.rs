//! The campaign results commands: import the email tool's results,
//! compute conversions from orders, and the report. The engine's types
//! (`cohort::campaigns::results`) are already the JSON the UI reads.

use serde::Deserialize;
use ts_rs::TS;

use super::ApiError;
use crate::campaigns::results::{
    self, CampaignReport, OrdersAttribution, ResultsError, ResultsImport,
};
use crate::store::Workspace;

impl From<ResultsError> for ApiError {
    fn from(e: ResultsError) -> Self {
        ApiError::new(e.code(), e.to_string())
    }
}

/// `campaign_results_import`: the email tool's per-recipient results file.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct CampaignResultsImportRequest {
    pub campaign_id: i64,
    /// A CSV on this computer (or an upload's path).
    pub path: String,
}

/// `campaign_results_from_orders`: conversions from orders after the send.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct CampaignResultsFromOrdersRequest {
    pub campaign_id: i64,
    /// Days after the send an order counts (default 14).
    #[serde(default)]
    pub window_days: Option<u32>,
}

/// `campaign_report`: the report against the holdout.
#[derive(Debug, Clone, Deserialize, TS)]
#[ts(export)]
pub struct CampaignReportRequest {
    pub campaign_id: i64,
    /// Of intervals and tests (default 0.95).
    #[serde(default)]
    pub confidence: Option<f64>,
}

pub fn import(
    ws: &mut Workspace,
    req: &CampaignResultsImportRequest,
    now: &str,
) -> Result<ResultsImport, ApiError> {
    let path = req.path.trim();
    if path.is_empty() {
        return Err(ApiError::new(
            "bad_request",
            "Give the path of the results file.",
        ));
    }
    Ok(results::import_results(
        ws.conn_mut(),
        req.campaign_id,
        &super::types::path_buf(path),
        now,
    )?)
}

pub fn from_orders(
    ws: &mut Workspace,
    req: &CampaignResultsFromOrdersRequest,
    now: &str,
) -> Result<OrdersAttribution, ApiError> {
    Ok(results::results_from_orders(
        ws.conn_mut(),
        req.campaign_id,
        req.window_days.unwrap_or(results::DEFAULT_WINDOW_DAYS),
        now,
    )?)
}

pub fn report(ws: &Workspace, req: &CampaignReportRequest) -> Result<CampaignReport, ApiError> {
    Ok(results::report(
        ws.conn(),
        req.campaign_id,
        req.confidence.unwrap_or(results::DEFAULT_CONFIDENCE),
        results::DEFAULT_SEED,
    )?)
}
