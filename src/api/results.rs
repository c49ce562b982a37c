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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::super::{App, ErrorClass};

    #[test]
    fn results_commands() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::new(None, None, dir.path().join("scratch"));
        let ws = dir.path().join("ws.cohort");
        app.call("workspace_open", json!({"path": ws, "create": true}))
            .unwrap();
        let e = app
            .call("campaign_report", json!({"campaign_id": 9}))
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.class()),
            ("not_found", ErrorClass::NotFound)
        );

        // A campaign sent to ann (profile 1) and bob (2), with cy (3) held out.
        {
            let ws = crate::store::Workspace::open(&ws).unwrap();
            ws.conn()
                .execute_batch(
                    "INSERT INTO segments (id, name, kind, created_at, updated_at) VALUES (1, 'All', 'static', '', '');
                     INSERT INTO campaigns (id, name, segment_id, channel, holdout_percent, salt, created_at, updated_at)
                          VALUES (1, 'Hello', 1, 'email', 30, 'salt', '', '');
                     INSERT INTO profiles (id, email, created_at, updated_at) VALUES
                          (1, 'ann@example.com', '', ''), (2, 'bob@example.com', '', ''), (3, 'cy@example.com', '', '');",
                )
                .unwrap();
        }
        let e = app
            .call("campaign_report", json!({"campaign_id": 1}))
            .unwrap_err();
        assert_eq!(
            (e.code.as_str(), e.class()),
            ("not_exported", ErrorClass::Unprocessable)
        );
        {
            let ws = crate::store::Workspace::open(&ws).unwrap();
            ws.conn()
                .execute_batch(
                    "INSERT INTO campaign_exports (id, campaign_id, at, format, path, segment_id, members, held_out,
                          suppressed, suppressed_reasons, exported, file_sha256, bytes)
                          VALUES (1, 1, '2026-11-02T09:00:00Z', 'csv', 'x.csv', 1, 3, 1, 0, '{}', 2, 'x', 0);
                     INSERT INTO campaign_sends (campaign_id, profile_id, variant, export_id, sent_at) VALUES
                          (1, 1, '', 1, '2026-11-02T09:00:00Z'), (1, 2, '', 1, '2026-11-02T09:00:00Z');
                     INSERT INTO campaign_holdout (campaign_id, profile_id) VALUES (1, 3);",
                )
                .unwrap();
        }
        let e = app
            .call(
                "campaign_results_import",
                json!({"campaign_id": 1, "path": " "}),
            )
            .unwrap_err();
        assert_eq!(e.code, "bad_request");
        let file = dir.path().join("results.csv");
        std::fs::write(
            &file,
            "Email,Opened,Clicked\nann@example.com,1,1\nbob@example.com,0,0\n",
        )
        .unwrap();
        let imported = app
            .call(
                "campaign_results_import",
                json!({"campaign_id": 1, "path": file}),
            )
            .unwrap();
        assert_eq!(imported["matched"], 2);
        let e = app
            .call(
                "campaign_results_from_orders",
                json!({"campaign_id": 1, "window_days": 0}),
            )
            .unwrap_err();
        assert_eq!(e.code, "invalid");
        let orders = app
            .call("campaign_results_from_orders", json!({"campaign_id": 1}))
            .unwrap();
        assert_eq!(
            (orders["window_days"].as_u64(), orders["holdout"].as_u64()),
            (Some(14), Some(1))
        );
        let report = app
            .call(
                "campaign_report",
                json!({"campaign_id": 1, "confidence": 0.9}),
            )
            .unwrap();
        assert_eq!(report["confidence"], 0.9);
        assert_eq!(report["groups"][0]["email"]["clicked"]["count"], 1);
        assert_eq!(report["groups"][1]["name"], "Holdout");
        assert!(
            report["verdict"]
                .as_str()
                .unwrap()
                .starts_with("Nobody has placed an order within 14 days"),
            "{report}"
        );
        assert!(report["chart_svg"].as_str().unwrap().starts_with("<svg"));
    }
}
