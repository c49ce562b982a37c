//! Where the app keeps its files, and which workspace it opens at launch.

use std::path::PathBuf;

use cohort::api::App;
use serde_json::json;

/// Cohort's data folder: `COHORT_DATA_DIR`, else `<OS data dir>/Cohort`
/// (the same folder the `cohort` CLI uses, so both share the recent list).
pub fn data_dir() -> PathBuf {
    match std::env::var_os("COHORT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("Cohort"),
    }
}

/// The app with a workspace open: the most recent one that still opens, or
/// on a first start `demo.cohort` in the data folder (created empty and
/// marked as a first start: the UI then loads the demo business into it).
pub fn open_app() -> App {
    let data = data_dir();
    let app = App::new(None, Some(data.join("recent.json")), data.join("files"));
    let recent: Vec<String> = app
        .call("app_info", json!({}))
        .ok()
        .and_then(|info| serde_json::from_value(info["recent"].clone()).ok())
        .unwrap_or_default();
    let open = |path: &str, create: bool| {
        app.call("workspace_open", json!({ "path": path, "create": create }))
    };
    if recent.iter().any(|p| open(p, false).is_ok()) {
        return app;
    }
    let demo = data.join("demo.cohort");
    match open(&demo.display().to_string(), true) {
        // The UI loads the demo business into it, with a progress bar.
        Ok(_) => app.mark_first_start(),
        // The UI starts without a workspace and offers to open or create one.
        Err(e) => eprintln!("cohort: could not open {}: {e}", demo.display()),
    }
    app
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    fn workspace(app: &App) -> Value {
        app.call("app_info", json!({})).unwrap()["workspace"]["path"].clone()
    }

    #[test]
    fn first_start_opens_demo_then_the_most_recent_that_still_exists() {
        let dir =
            std::env::temp_dir().join(format!("cohort-desktop-startup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        // Only this test touches the variable in this test binary.
        std::env::set_var("COHORT_DATA_DIR", &dir);
        let demo = dir.join("demo.cohort").display().to_string();
        assert_eq!(workspace(&open_app()), json!(demo));

        let other = dir.join("other.cohort").display().to_string();
        let app = open_app();
        app.call("workspace_open", json!({ "path": other, "create": true }))
            .unwrap();
        assert_eq!(workspace(&open_app()), json!(other));

        std::fs::remove_file(&other).unwrap();
        assert_eq!(workspace(&open_app()), json!(demo));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
