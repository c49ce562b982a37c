//! Native file dialogs: the desktop's stand-in for the browser's upload.
//! The engine reads the chosen file where it is; nothing is copied.

use std::path::PathBuf;

use cohort::api::ApiError;
use tauri::WebviewWindow;
use tauri_plugin_dialog::{DialogExt, FileDialogBuilder};

/// Asks for a CSV export to import; `None` when the person cancels.
///
/// Tests: `COHORT_E2E_PICK=/abs/file.csv` makes this return that path without
/// opening the dialog, since WebDriver cannot drive a native dialog
/// (`e2e-desktop/` uses it). It can only name a file the launching user chose.
#[tauri::command]
pub async fn pick_file(window: WebviewWindow) -> Result<Option<String>, ApiError> {
    if let Some(path) = std::env::var_os("COHORT_E2E_PICK") {
        return Ok(Some(PathBuf::from(path).display().to_string()));
    }
    blocking(move || {
        dialog(&window)
            .set_title("Import a CSV export")
            .add_filter(
                "CSV, TSV or text",
                &["csv", "tsv", "txt", "CSV", "TSV", "TXT"],
            )
            .blocking_pick_file()
    })
    .await
}

/// Asks for a workspace: an existing `*.cohort` file (`save: false`) or where
/// to create a new one (`save: true`). The UI then calls `workspace_open`.
#[tauri::command]
pub async fn pick_workspace(window: WebviewWindow, save: bool) -> Result<Option<String>, ApiError> {
    let picked = blocking(move || {
        let d = dialog(&window).add_filter("Cohort workspace", &["cohort"]);
        if save {
            d.set_title("Create a workspace")
                .set_file_name("Workspace.cohort")
                .blocking_save_file()
        } else {
            d.set_title("Open a workspace").blocking_pick_file()
        }
    })
    .await?;
    // GTK's save dialog does not add the extension the filter names.
    Ok(picked.map(|p| match save && !p.ends_with(".cohort") {
        true => format!("{p}.cohort"),
        false => p,
    }))
}

/// Saves text the UI made (rejected rows as CSV) where the person chooses:
/// a desktop window has no browser downloads. Returns the path, or `None`
/// when the person cancels.
///
/// Tests: `COHORT_E2E_SAVE_DIR=/abs/dir` saves into that folder under the
/// suggested name without opening the dialog (WebDriver cannot drive it).
#[tauri::command]
pub async fn save_text(
    window: WebviewWindow,
    file_name: String,
    text: String,
) -> Result<Option<String>, ApiError> {
    // Only a file name is accepted from the page, never a folder.
    let name: String = file_name
        .chars()
        .map(|c| if c == '/' || c == '\\' { '_' } else { c })
        .collect();
    let path = match std::env::var_os("COHORT_E2E_SAVE_DIR") {
        Some(dir) => Some(PathBuf::from(dir).join(&name).display().to_string()),
        None => {
            blocking(move || {
                dialog(&window)
                    .set_title("Save as CSV")
                    .set_file_name(&name)
                    .add_filter("CSV", &["csv"])
                    .blocking_save_file()
            })
            .await?
        }
    };
    if let Some(p) = &path {
        std::fs::write(p, text)
            .map_err(|e| ApiError::new("io", format!("Could not save {p}: {e}")))?;
    }
    Ok(path)
}

fn dialog(window: &WebviewWindow) -> FileDialogBuilder<tauri::Wry> {
    window.dialog().file().set_parent(window)
}

/// Runs a blocking dialog on a worker thread (never on the main thread,
/// which runs the event loop the dialog needs) and returns the chosen path.
async fn blocking<F>(show: F) -> Result<Option<String>, ApiError>
where
    F: FnOnce() -> Option<tauri_plugin_dialog::FilePath> + Send + 'static,
{
    let picked = tauri::async_runtime::spawn_blocking(show)
        .await
        .map_err(|e| ApiError::new("internal", e.to_string()))?;
    picked
        .map(|p| p.into_path().map(|p| p.display().to_string()))
        .transpose()
        .map_err(|e| ApiError::new("io", e.to_string()))
}
