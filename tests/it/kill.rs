//! A killed import loses nothing that was committed and leaves nothing half done.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{dump, import, Scratch};

#[test]
fn killing_the_process_mid_import_leaves_the_workspace_intact() {
    let s = Scratch::new();
    let ws_path = s.path("ws.cohort");
    {
        let mut ws = s.workspace();
        let seed = s.write("seed.csv", "email,first name\nseed@example.com,Seed\n");
        import(&mut ws, &seed);
    }
    let before = dump(&cohort::store::Workspace::open(&ws_path).unwrap());

    let mut body = String::with_capacity(60 << 20);
    body.push_str("customer id,email,first name,last name,phone,country,signup date\n");
    for i in 0..600_000u64 {
        body.push_str(&format!(
            "C{i},person{i}@example.com,First{i},Last{i},+1 617 555 {:04},US,2024-01-{:02}\n",
            i % 10_000,
            i % 28 + 1
        ));
    }
    let big = s.write("big.csv", body);

    let mut child = Command::new(env!("CARGO_BIN_EXE_cohort"))
        .args([
            "--workspace",
            ws_path.to_str().unwrap(),
            "import",
            big.to_str().unwrap(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the import has written a good part of its transaction to the WAL.
    let wal = s.path("ws.cohort-wal");
    let started = Instant::now();
    loop {
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        if wal_len > 8 << 20 {
            break;
        }
        assert!(
            child.try_wait().unwrap().is_none(),
            "the import finished before it could be killed; make the file bigger"
        );
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "the import never got going"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL: no destructor, no rollback by the process
    child.wait().unwrap();

    let ws = cohort::store::Workspace::open(&ws_path).unwrap();
    assert_eq!(ws.integrity_check().unwrap(), Ok(()));
    assert_eq!(
        dump(&ws),
        before,
        "the workspace holds exactly what it held before"
    );
}
