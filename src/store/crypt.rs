//! Encryption at rest: a workspace may be an SQLCipher file (AES-256, pages
//! authenticated with HMAC-SHA512). SQLCipher derives the page key from the
//! passphrase with PBKDF2-HMAC-SHA512 (256,000 iterations) and a random salt
//! kept in the file's first 16 bytes, so we never store a key, only hand the
//! passphrase to SQLCipher.
//!
//! Where the passphrase comes from, in order: the ones given to this process
//! ([`remember_for_session`], e.g. typed into the app), the
//! `COHORT_PASSPHRASE` environment variable (scripts, CI), and the OS
//! keychain ([`save_to_keychain`]). An unencrypted workspace needs none.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rusqlite::Connection;

use super::StoreError;

/// The environment variable a script can put the passphrase in.
pub const PASSPHRASE_ENV: &str = "COHORT_PASSPHRASE";
const KEYCHAIN_SERVICE: &str = "Cohort workspace";

/// Passphrases given to this process, by canonical workspace path. A process
/// holds one user's session; the map only saves asking again per connection.
static SESSION: Mutex<Option<HashMap<PathBuf, String>>> = Mutex::new(None);

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Whether `path` is an encrypted workspace: an SQLite file starts with the
/// text "SQLite format 3\0"; an SQLCipher file starts with its random salt.
/// Anything else is an SQLCipher file only if it is made of whole pages
/// (so a stray text file is reported as "not a workspace", not "locked").
pub fn is_encrypted(path: &Path) -> bool {
    use std::io::Read;
    let mut header = [0u8; 16];
    let whole_pages = std::fs::metadata(path)
        .map(|m| m.len() >= 1024 && m.len() % 1024 == 0)
        .unwrap_or(false);
    match std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut header)) {
        Ok(()) => whole_pages && &header != b"SQLite format 3\0",
        Err(_) => false,
    }
}

/// Keeps `passphrase` for `path` for the rest of this process.
pub fn remember_for_session(path: &Path, passphrase: &str) {
    let mut guard = SESSION.lock().expect("passphrase lock");
    guard
        .get_or_insert_with(HashMap::new)
        .insert(canonical(path), passphrase.to_string());
}

/// Forgets the session passphrase of `path` (after decrypting, or on lock).
pub fn forget_for_session(path: &Path) {
    if let Some(map) = SESSION.lock().expect("passphrase lock").as_mut() {
        map.remove(&canonical(path));
    }
}

/// The keychain entry's name for `path`.
fn keychain_account(path: &Path) -> String {
    canonical(path).to_string_lossy().into_owned()
}

/// Stores the passphrase in the OS keychain (macOS Keychain, Windows
/// Credential Manager, the Linux kernel keyring) so the workspace opens
/// without asking.
pub fn save_to_keychain(path: &Path, passphrase: &str) -> Result<(), StoreError> {
    keychain::save(&keychain_account(path), passphrase).map_err(|detail| StoreError::Keychain {
        path: path.to_path_buf(),
        detail,
    })
}

/// Removes the keychain entry, if any.
pub fn remove_from_keychain(path: &Path) {
    keychain::remove(&keychain_account(path));
}

#[cfg(not(target_os = "linux"))]
mod keychain {
    use super::KEYCHAIN_SERVICE;

    fn entry(account: &str) -> keyring::Result<keyring::Entry> {
        keyring::Entry::new(KEYCHAIN_SERVICE, account)
    }

    pub fn save(account: &str, secret: &str) -> Result<(), String> {
        entry(account)
            .and_then(|e| e.set_password(secret))
            .map_err(|e| e.to_string())
    }

    pub fn get(account: &str) -> Option<String> {
        entry(account).and_then(|e| e.get_password()).ok()
    }

    pub fn remove(account: &str) {
        if let Ok(e) = entry(account) {
            let _ = e.delete_credential();
        }
    }
}

/// The Linux kernel keyring, by hand rather than through keyring's
/// `linux-native` store: that store also links each key into the user's
/// persistent keyring and fails when there is none (no login session:
/// containers, SSH without PAM), and it leaves the key readable only by its
/// possessor, so another process of the same user (the next `cohort`
/// command) cannot find it once the first has exited. Here the key goes to
/// the session keyring (the user-session keyring when the process has no
/// session of its own) with search and read granted to the same user ID,
/// the same protection as a file only its owner can read; it lasts until
/// the user's session ends (or the machine restarts).
#[cfg(target_os = "linux")]
mod keychain {
    use linux_keyutils::{KeyPermissionsBuilder, KeyRing, KeyRingIdentifier, Permission};

    fn description(account: &str) -> String {
        format!("{}:{account}", super::KEYCHAIN_SERVICE)
    }

    fn ring() -> Result<KeyRing, String> {
        KeyRing::from_special_id(KeyRingIdentifier::Session, false)
            .map_err(|e| format!("no session keyring: {e:?}"))
    }

    pub fn save(account: &str, secret: &str) -> Result<(), String> {
        let key = ring()?
            .add_key(&description(account), secret)
            .map_err(|e| format!("the kernel keyring refused the key: {e:?}"))?;
        let perms = KeyPermissionsBuilder::builder()
            .posessor(Permission::ALL)
            .user(Permission::VIEW | Permission::READ | Permission::SEARCH | Permission::WRITE)
            .build();
        key.set_perms(perms)
            .map_err(|e| format!("the kernel keyring refused the key's permissions: {e:?}"))
    }

    pub fn get(account: &str) -> Option<String> {
        let key = ring().ok()?.search(&description(account)).ok()?;
        String::from_utf8(key.read_to_vec().ok()?).ok()
    }

    pub fn remove(account: &str) {
        if let Some(key) = ring()
            .ok()
            .and_then(|r| r.search(&description(account)).ok())
        {
            let _ = key.invalidate();
        }
    }
}

/// The passphrase for `path`, from the session, the environment or the
/// keychain.
pub fn passphrase_for(path: &Path) -> Option<String> {
    if let Some(p) = SESSION
        .lock()
        .expect("passphrase lock")
        .as_ref()
        .and_then(|m| m.get(&canonical(path)).cloned())
    {
        return Some(p);
    }
    if let Ok(p) = std::env::var(PASSPHRASE_ENV) {
        if !p.is_empty() {
            return Some(p);
        }
    }
    keychain::get(&keychain_account(path))
}

/// Gives a freshly opened connection its key when the file is encrypted,
/// and checks the key opens it. Must run before any other statement.
pub fn unlock(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    if !is_encrypted(path) {
        return Ok(());
    }
    let Some(passphrase) = passphrase_for(path) else {
        return Err(StoreError::Locked {
            path: path.to_path_buf(),
        });
    };
    apply_key(conn, &passphrase).map_err(|source| StoreError::Sql {
        path: path.to_path_buf(),
        source,
    })?;
    check_key(conn, path)
}

fn apply_key(conn: &Connection, passphrase: &str) -> rusqlite::Result<()> {
    // PRAGMA takes no bound parameters; rusqlite quotes the value as an SQL
    // string literal (doubling quotes), so any passphrase is safe here.
    conn.pragma_update(None, "key", passphrase)?;
    // A wrong passphrase is an answer we report, not something SQLCipher
    // should also print on stderr. (Its logging starts with the first key,
    // at level WARN, so the level is set after it.)
    let _ = conn.execute_batch("PRAGMA cipher_log_level = NONE;");
    Ok(())
}

fn check_key(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    match conn.query_row("SELECT count(*) FROM sqlite_schema", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(_) => Ok(()),
        Err(e) if e.sqlite_error_code() == Some(rusqlite::ErrorCode::NotADatabase) => {
            Err(StoreError::WrongPassphrase {
                path: path.to_path_buf(),
            })
        }
        Err(source) => Err(StoreError::Sql {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// A connection for a background reader (traits, the segment index): read
/// only, no mutex, keyed like the workspace's own.
pub fn open_reader(path: &Path) -> rusqlite::Result<Connection> {
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    if is_encrypted(path) {
        if let Some(p) = passphrase_for(path) {
            apply_key(&conn, &p)?;
        }
    }
    Ok(conn)
}

/// Keys an extra connection to a copy of `path` (a backup of it) the same
/// way as the workspace.
pub(crate) fn key_like(conn: &Connection, workspace: &Path) -> rusqlite::Result<()> {
    if is_encrypted(workspace) {
        if let Some(p) = passphrase_for(workspace) {
            apply_key(conn, &p)?;
        }
    }
    Ok(())
}

/// Rewrites the workspace at `path` with `new_passphrase` (`None` = plain
/// SQLite). Works through `sqlcipher_export` into a new file beside it, then
/// an atomic rename, so a crash leaves either the old or the new file.
/// The caller must hold no other connection to the workspace.
pub fn rekey(path: &Path, new_passphrase: Option<&str>) -> Result<(), StoreError> {
    let err = |source| StoreError::Sql {
        path: path.to_path_buf(),
        source,
    };
    if let Some(p) = new_passphrase {
        if p.chars().count() < 8 {
            return Err(StoreError::WeakPassphrase);
        }
    }
    let conn = Connection::open(path).map_err(err)?;
    unlock(&conn, path)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(err)?;
    // Fold the WAL into the file so the copy sees every committed change.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(err)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(err)?;
    let tmp = path.with_extension("rekeying");
    let _ = std::fs::remove_file(&tmp);
    conn.execute(
        "ATTACH DATABASE ?1 AS rekeyed KEY ?2",
        rusqlite::params![tmp.to_string_lossy(), new_passphrase.unwrap_or("")],
    )
    .map_err(err)?;
    let copy = (|| -> rusqlite::Result<()> {
        // A plain copy gets the page size of a new workspace (16 KiB, see
        // `configure`); an encrypted one keeps SQLCipher's default, which is
        // what it assumes when it opens the file.
        if new_passphrase.is_none() {
            conn.execute_batch("PRAGMA rekeyed.page_size = 16384;")?;
        }
        conn.query_row("SELECT sqlcipher_export('rekeyed')", [], |_| Ok(()))?;
        conn.pragma_update(Some("rekeyed"), "user_version", version)?;
        Ok(())
    })();
    let detached = conn.execute("DETACH DATABASE rekeyed", []);
    drop(conn);
    if let Err(e) = copy.and(detached.map(|_| ())) {
        let _ = std::fs::remove_file(&tmp);
        return Err(err(e));
    }
    std::fs::rename(&tmp, path).map_err(|source| StoreError::CreateDir {
        path: path.to_path_buf(),
        source,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut side = path.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
    match new_passphrase {
        Some(p) => remember_for_session(path, p),
        None => forget_for_session(path),
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Workspace;

    #[test]
    fn encrypt_open_with_passphrase_and_decrypt() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.cohort");
        {
            let ws = Workspace::open(&path).unwrap();
            ws.set_setting(crate::store::setting::DEFAULT_REGION, "GB")
                .unwrap();
            ws.conn()
                .execute(
                    "INSERT INTO sources (name, kind, created_at) VALUES ('Zebedee Quux shop', 'contacts', 'now')",
                    [],
                )
                .unwrap();
        }
        assert!(!is_encrypted(&path));
        rekey(&path, Some("correct horse battery")).unwrap();
        assert!(is_encrypted(&path));
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            !bytes.windows(7).any(|w| w == b"Zebedee"),
            "plain text left in the file"
        );

        // Without the passphrase the workspace is locked, with a wrong one refused.
        forget_for_session(&path);
        if std::env::var(PASSPHRASE_ENV).is_err() && passphrase_for(&path).is_none() {
            assert!(matches!(
                Workspace::open(&path),
                Err(StoreError::Locked { .. })
            ));
        }
        remember_for_session(&path, "wrong wrong wrong");
        assert!(matches!(
            Workspace::open(&path),
            Err(StoreError::WrongPassphrase { .. })
        ));

        remember_for_session(&path, "correct horse battery");
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(
            ws.setting(crate::store::setting::DEFAULT_REGION).unwrap(),
            "GB"
        );
        assert_eq!(ws.schema_version().unwrap(), crate::store::latest_version());
        assert_eq!(ws.integrity_check().unwrap(), Ok(()));
        let reader = open_reader(&path).unwrap();
        let n: i64 = reader
            .query_row("SELECT count(*) FROM sources", [], |r| r.get(0))
            .unwrap();
        assert_eq!(n, 1);
        drop((ws, reader));

        rekey(&path, None).unwrap();
        assert!(!is_encrypted(&path));
        let ws = Workspace::open(&path).unwrap();
        assert_eq!(
            ws.setting(crate::store::setting::DEFAULT_REGION).unwrap(),
            "GB"
        );
    }

    #[test]
    fn short_passphrases_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.cohort");
        drop(Workspace::open(&path).unwrap());
        assert!(matches!(
            rekey(&path, Some("short")),
            Err(StoreError::WeakPassphrase)
        ));
        assert!(!is_encrypted(&path));
    }
}
