//! The menu bar. Items only tell the UI what was chosen (event `menu`, with
//! the item id as payload); the UI does the work, as for its own buttons.

use tauri::menu::{Menu, MenuBuilder, MenuEvent, MenuItemBuilder, SubmenuBuilder};
use tauri::{AppHandle, Emitter, Runtime};

/// Ids the UI receives as the `menu` event's payload.
pub const NEW_WORKSPACE: &str = "new_workspace";
pub const OPEN_WORKSPACE: &str = "open_workspace";
pub const IMPORT_CSV: &str = "import_csv";
pub const ABOUT: &str = "about";
const QUIT: &str = "quit";

pub fn build<R: Runtime>(app: &AppHandle<R>) -> tauri::Result<Menu<R>> {
    let item = |id: &str, text: &str, keys: &str| {
        MenuItemBuilder::with_id(id, text)
            .accelerator(keys)
            .build(app)
    };
    let file = SubmenuBuilder::new(app, "File")
        .item(&item(NEW_WORKSPACE, "New Workspace…", "CmdOrCtrl+N")?)
        .item(&item(OPEN_WORKSPACE, "Open Workspace…", "CmdOrCtrl+O")?)
        .separator()
        .item(&item(IMPORT_CSV, "Import CSV…", "CmdOrCtrl+I")?)
        .separator()
        .item(&item(QUIT, "Quit", "CmdOrCtrl+Q")?)
        .build()?;
    // Without an Edit menu, macOS webviews ignore Cmd+C/V/X/A.
    let edit = SubmenuBuilder::new(app, "Edit")
        .undo()
        .redo()
        .separator()
        .cut()
        .copy()
        .paste()
        .select_all()
        .build()?;
    let help = SubmenuBuilder::new(app, "Help")
        .text(ABOUT, "About Cohort")
        .build()?;
    MenuBuilder::new(app).items(&[&file, &edit, &help]).build()
}

pub fn on_event<R: Runtime>(app: &AppHandle<R>, event: MenuEvent) {
    match event.id().as_ref() {
        QUIT => app.exit(0),
        id => {
            let _ = app.emit("menu", id);
        }
    }
}
