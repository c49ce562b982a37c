//! Cohort's desktop app: a thin Tauri v2 shell over `cohort::api`.
//!
//! **Architecture invariant:** no domain logic lives here. Every command the
//! UI sends goes to the one dispatcher (`cohort::api::App`), exactly as
//! `cohort serve` does over HTTP; this crate only moves JSON and progress
//! events across Tauri IPC, and adds what only a desktop has: native file
//! dialogs and the menu bar.
#![cfg_attr(not(debug_assertions), windows_subsystem = "windows")]

mod commands;
mod dialogs;
mod menu;
mod startup;

fn main() {
    // WebKitGTK's GPU compositor crashes or draws nothing on machines
    // without working GL drivers (virtual machines, some NVIDIA setups; here
    // a segfault in its compositor thread under Xvfb's software GL). Its
    // software path draws this app just as well. Set before any thread
    // starts; a user who wants the GPU path can export the variable as 0.
    #[cfg(target_os = "linux")]
    if std::env::var_os("WEBKIT_DISABLE_COMPOSITING_MODE").is_none() {
        std::env::set_var("WEBKIT_DISABLE_COMPOSITING_MODE", "1");
    }
    let shell = commands::Shell::new(startup::open_app());
    tauri::Builder::default()
        .plugin(tauri_plugin_dialog::init())
        .manage(shell)
        .menu(menu::build)
        .on_menu_event(menu::on_event)
        .invoke_handler(tauri::generate_handler![
            commands::call,
            commands::start_job,
            commands::cancel_job,
            dialogs::pick_file,
            dialogs::pick_workspace,
            dialogs::save_text,
        ])
        .run(tauri::generate_context!())
        .expect("error while running Cohort");
}
