use cohort::store::{latest_version, Workspace};

use crate::support::Scratch;

#[test]
fn an_empty_file_migrates_to_the_latest_schema() {
    let s = Scratch::new();
    // An empty file is a valid (empty) SQLite database: it must be migrated, not refused.
    let path = s.write("empty.cohort", b"");
    let ws = Workspace::open(&path).unwrap();
    assert_eq!(ws.schema_version().unwrap(), latest_version());
    assert_eq!(ws.integrity_check().unwrap(), Ok(()));
    let stats = ws.stats().unwrap();
    assert_eq!((stats.contacts, stats.imports), (0, 0));
}

/// Contacts CSV with `n` rows whose emails start with `tag`.
fn contacts_csv(tag: &str, n: usize) -> String {
    let mut s = String::from("Email,First Name,Last Name,Phone\n");
    for i in 0..n {
        s.push_str(&format!("{tag}{i}@example.com,Ann{i},{tag}son,\n"));
    }
    s
}

fn cohort(ws: &std::path::Path) -> std::process::Command {
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_cohort"));
    c.arg("--workspace").arg(ws);
    c
}

/// Two processes writing one workspace at once: the second queues for the
/// write lock, both imports land whole, and the file stays sound.
#[test]
fn two_writers_at_once_both_land_and_nothing_is_corrupted() {
    let s = Scratch::new();
    let ws = s.path("shared.cohort");
    assert!(cohort(&ws).arg("init").status().unwrap().success());
    let a = s.write("a.csv", contacts_csv("alpha", 20_000));
    let b = s.write("b.csv", contacts_csv("beta", 20_000));
    let first = cohort(&ws)
        .args(["import", "--source", "Shop A"])
        .arg(&a)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let second = cohort(&ws)
        .args(["import", "--source", "Shop B"])
        .arg(&b)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let (first, second) = (
        first.wait_with_output().unwrap(),
        second.wait_with_output().unwrap(),
    );
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let w = Workspace::open(&ws).unwrap();
    assert_eq!(w.integrity_check().unwrap(), Ok(()));
    let stats = w.stats().unwrap();
    assert_eq!((stats.contacts, stats.imports), (40_000, 2));
}

/// A writer that cannot get the lock in time fails with a message that says
/// why, and changes nothing.
#[test]
fn a_writer_that_cannot_wait_longer_says_the_workspace_is_busy() {
    let s = Scratch::new();
    let ws = s.path("busy.cohort");
    assert!(cohort(&ws).arg("init").status().unwrap().success());
    let a = s.write("a.csv", contacts_csv("gamma", 10));
    let holder = rusqlite::Connection::open(&ws).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let started = std::time::Instant::now();
    let out = cohort(&ws)
        .env("COHORT_BUSY_SECONDS", "2")
        .arg("import")
        .arg(&a)
        .output()
        .unwrap();
    let took = started.elapsed();
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(!out.status.success());
    assert!(took >= std::time::Duration::from_secs(2), "waited {took:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    // After a second it said it was waiting, once, then gave up clearly.
    assert_eq!(
        err.matches(
            "Waiting: another Cohort window or command is writing to this workspace (up to 2 s)"
        )
        .count(),
        1,
        "{err}"
    );
    assert!(
        err.contains("busy") && err.contains("another Cohort"),
        "{err}"
    );
    let w = Workspace::open(&ws).unwrap();
    assert_eq!(w.stats().unwrap().contacts, 0);
}

/// Runs `cohort` with `stdin` piped in and no passphrase in the environment.
fn run_with_stdin(cmd: &mut std::process::Command, stdin: &str) -> std::process::Output {
    use std::io::Write;
    let mut child = cmd
        .env_remove("COHORT_PASSPHRASE")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// `cohort encrypt --remember` keeps the passphrase in the OS keychain (here
/// the Linux kernel keyring): a later process opens the workspace without
/// being given it; `cohort decrypt` takes it out again, so a workspace
/// encrypted afterwards without --remember is locked until given one.
#[test]
fn encryption_through_the_cli_with_the_passphrase_in_the_keychain() {
    let s = Scratch::new();
    let ws = s.path("secret.cohort");
    assert!(cohort(&ws).arg("init").status().unwrap().success());
    let csv = s.write(
        "c.csv",
        "Email,First Name,Last Name\nquintessa.vandermolen@example.com,Quintessa,Vandermolen\n",
    );
    let out = cohort(&ws).arg("import").arg(&csv).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let out = run_with_stdin(
        cohort(&ws).args(["--json", "encrypt", "--passphrase-stdin", "--remember"]),
        "correct horse battery staple\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reply: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(reply["encrypted"], true);
    assert_eq!(
        reply["keychain"],
        true,
        "the keychain refused: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&ws).unwrap();
    assert!(!bytes.windows(10).any(|w| w == b"Vandermole"));

    // A new process, no passphrase given: the keychain opens it.
    let out = run_with_stdin(cohort(&ws).args(["--json", "stats"]), "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stats: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(stats["contacts"], 1);

    let out = run_with_stdin(cohort(&ws).arg("decrypt"), "");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let bytes = std::fs::read(&ws).unwrap();
    assert!(bytes.starts_with(b"SQLite format 3\0"));

    // Encrypted again without --remember: the old keychain entry is gone.
    let out = run_with_stdin(
        cohort(&ws).args(["encrypt", "--passphrase-stdin"]),
        "another good passphrase\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = run_with_stdin(cohort(&ws).arg("stats"), "");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("locked") || err.contains("passphrase"),
        "{err}"
    );
    let out = cohort(&ws)
        .arg("stats")
        .env("COHORT_PASSPHRASE", "another good passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
