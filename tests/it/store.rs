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
