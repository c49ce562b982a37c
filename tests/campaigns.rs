//! Campaigns end to end: real imports into a real workspace file, identity
//! resolution, then campaigns, suppression, holdout and every export format,
//! reading the files back with the csv crate.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use cohort::campaigns::{
    self, CampaignError, CampaignUpdate, Channel, ExportRequest, Format, NewCampaign,
};
use cohort::identity::{self, ResolveOptions};
use cohort::ingest::{self, ImportOptions, Kind};
use cohort::progress::Silent;
use cohort::store::Workspace;
use sha2::{Digest, Sha256};

const NOW: &str = "2026-11-01T12:00:00Z";

fn now() -> chrono::DateTime<chrono::Utc> {
    NOW.parse().unwrap()
}

/// Shopify customers. Carla's first name is a formula; Gina has no email;
/// Dan opted out; Eve never answered. Hal's and Jack's email consent is
/// left empty here: the consent ledger lets the latest evidence win, and an
/// undated Shopify "yes" counts as of its import, after Mailchimp's dated
/// cleaned/unsubscribed rows.
const SHOPIFY: &str = "\
Customer ID,First Name,Last Name,Email,Accepts Email Marketing,Default Address Address1,Default Address City,Default Address Province Code,Default Address Country Code,Default Address Zip,Phone,Accepts SMS Marketing,Total Spent,Total Orders,Tax Exempt
1,Anna,Smith,anna@shopmail.net,yes,1 Main St,San Francisco,CA,US,94102-1234,+14155552671,yes,10.00,1,no
2,\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",Jones,carla@shopmail.net,yes,2 High St,London,,GB,SW1A 1AA,+447911123456,yes,0.00,0,no
3,Dan,Brown,dan@shopmail.net,no,,Boston,MA,US,02108,,no,0.00,0,no
4,Eve,White,eve@shopmail.net,,,Austin,TX,US,73301,,,0.00,0,no
5,Frank,Green,frank@shopmail.net,yes,,Leeds,,GB,LS1 1AA,,yes,0.00,0,no
6,Gina,Black,,yes,,Perth,,AU,6000,+61412345678,yes,0.00,0,no
7,Hal,Grey,hal@shopmail.net,,,Lyon,,FR,69001,,no,0.00,0,no
8,Ivy,Stone,ivy@shopmail.net,yes,,Berlin,,DE,10115,,no,0.00,0,no
9,Jack,Lee,jack@shopmail.net,,,Madrid,,ES,28001,,no,0.00,0,no
10,Kim,Park,kim@shopmail.net,yes,,Toronto,ON,CA,M5V 2T6,+14165550123,yes,0.00,0,no
";

/// A Mailchimp export of cleaned (bounced) addresses: every row is
/// `cleaned`, read from the file name.
const MAILCHIMP_CLEANED: &str = "\
Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,LEID,EUID,LAST_CHANGED
hal@shopmail.net,Hal,Grey,2,2024-01-01 10:00:00,2024-01-01 10:00:00,11,e11,2025-01-01 10:00:00
";

const MAILCHIMP_UNSUBSCRIBED: &str = "\
Email Address,First Name,Last Name,MEMBER_RATING,OPTIN_TIME,CONFIRM_TIME,LEID,EUID,LAST_CHANGED
jack@shopmail.net,Jack,Lee,2,2024-01-01 10:00:00,2024-01-01 10:00:00,12,e12,2025-01-01 10:00:00
";

/// A CRM with a consent status column (Ivy's raw `cleaned` is kept in
/// `raw`), birth dates, genders and ads consent.
const CRM: &str = "\
Email,First Name,Last Name,Birth Date,Gender,Email Consent,Ads Consent
anna@shopmail.net,Anna,Smith,1984-07-09,F,,yes
carla@shopmail.net,\"=HYPERLINK(\"\"http://evil.example/\"\",\"\"x\"\")\",Jones,1990-12-31,female,,yes
ivy@shopmail.net,Ivy,Stone,,,cleaned,
eve@shopmail.net,Eve,White,,,,no
";

/// A suppression list: Frank by email, Kim by a phone written nationally
/// (default region US reads it as +1…), a bad email, an empty row.
const SUPPRESSION: &str = "\
E-mail,Mobile,Note
FRANK@Shopmail.net ,,asked
,(416) 555-0123,asked by phone
not-an-email,,typo
,,empty
";

struct Fixture {
    _dir: tempfile::TempDir,
    dir: PathBuf,
    ws: Workspace,
    /// email (or first name when none) → profile id
    profile: HashMap<String, i64>,
    segment: i64,
    members: Vec<i64>,
}

impl Fixture {
    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
    fn id(&self, who: &str) -> i64 {
        self.profile[who]
    }
}

fn import(ws: &mut Workspace, dir: &Path, name: &str, text: &str, kind: Option<Kind>) {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    let mut options = ImportOptions::new(now());
    options.kind = kind;
    ingest::import(ws, &path, &options, &mut Silent)
        .unwrap_or_else(|e| panic!("import of {name} failed: {e}"));
}

/// The workspace after the imports and identity resolution, built once and
/// copied for each test (imports and resolution dominate the test time).
fn template() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path();
        let path = dir.join("ws.cohort");
        let mut ws = Workspace::open(&path).unwrap();
        import(&mut ws, dir, "customers_export.csv", SHOPIFY, None);
        import(
            &mut ws,
            dir,
            "members_export_cleaned_9f1.csv",
            MAILCHIMP_CLEANED,
            None,
        );
        import(
            &mut ws,
            dir,
            "members_export_unsubscribed_9f1.csv",
            MAILCHIMP_UNSUBSCRIBED,
            None,
        );
        import(&mut ws, dir, "crm.csv", CRM, Some(Kind::Contacts));
        identity::resolve(
            &mut ws,
            &ResolveOptions {
                full: true,
                settings: Default::default(),
                now: NOW.into(),
                actor: "test".into(),
            },
            &mut Silent,
        )
        .unwrap();
        ws.conn()
            .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
            .unwrap();
        drop(ws);
        std::fs::read(&path).unwrap()
    })
}

/// A new workspace holding a copy of the template's rows. (Copied table by
/// table into a freshly opened workspace rather than reopening a copy of
/// the file, so the test does not depend on reopening.)
fn workspace_from_template(dir: &Path) -> Workspace {
    let source = dir.join("template.cohort");
    std::fs::write(&source, template()).unwrap();
    let ws = Workspace::open(dir.join("ws.cohort")).unwrap();
    let conn = ws.conn();
    conn.execute_batch("PRAGMA foreign_keys = OFF").unwrap();
    conn.execute("ATTACH DATABASE ?1 AS tpl", [source.to_str().unwrap()])
        .unwrap();
    let tables: Vec<String> = conn
        .prepare(
            "SELECT name FROM tpl.sqlite_schema
              WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND sql NOT LIKE 'CREATE VIRTUAL%'",
        )
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let tx = conn.unchecked_transaction().unwrap();
    for t in tables {
        tx.execute_batch(&format!(
            "DELETE FROM main.\"{t}\"; INSERT INTO main.\"{t}\" SELECT * FROM tpl.\"{t}\";"
        ))
        .unwrap();
    }
    tx.commit().unwrap();
    conn.execute_batch("DETACH DATABASE tpl; PRAGMA foreign_keys = ON")
        .unwrap();
    ws
}

fn fixture() -> Fixture {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let ws = workspace_from_template(&dir);

    let mut profile = HashMap::new();
    {
        let mut st = ws
            .conn()
            .prepare("SELECT id, coalesce(email, first_name) FROM profiles")
            .unwrap();
        let rows = st
            .query_map([], |r| Ok((r.get::<_, String>(1)?, r.get::<_, i64>(0)?)))
            .unwrap();
        for row in rows {
            let (k, id) = row.unwrap();
            profile.insert(k, id);
        }
    }
    let profiles: i64 = ws
        .conn()
        .query_row("SELECT count(*) FROM profiles", [], |r| r.get(0))
        .unwrap();
    assert_eq!(profiles, 10, "one profile per person: {profile:?}");
    ws.conn()
        .execute(
            "INSERT INTO segments (name, kind, created_at, updated_at) VALUES ('Everyone', 'static', ?1, ?1)",
            [NOW],
        )
        .unwrap();
    let segment = ws.conn().last_insert_rowid();
    let mut members: Vec<i64> = profile.values().copied().collect();
    members.sort_unstable();
    Fixture {
        _dir: tmp,
        dir,
        ws,
        profile,
        segment,
        members,
    }
}

fn campaign(f: &Fixture, name: &str, channel: Channel, holdout: f64) -> campaigns::Campaign {
    campaigns::create(
        f.ws.conn(),
        NewCampaign {
            name: name.into(),
            segment_id: f.segment,
            channel,
            template: None,
            holdout_percent: holdout,
        },
        NOW,
    )
    .unwrap()
}

fn request(f: &Fixture, format: Format, file: &str, bom: bool) -> ExportRequest {
    ExportRequest {
        format,
        columns: Vec::new(),
        bom,
        path: f.path(file),
        pseudonymise: false,
    }
}

fn export_as(
    f: &mut Fixture,
    c: &campaigns::Campaign,
    format: Format,
    file: &str,
    bom: bool,
) -> campaigns::ExportSummary {
    let req = request(f, format, file, bom);
    run(f, c, &req)
}

fn run(f: &mut Fixture, c: &campaigns::Campaign, req: &ExportRequest) -> campaigns::ExportSummary {
    let members = f.members.clone();
    let mut ticks = Vec::new();
    let summary = campaigns::export(
        f.ws.conn_mut(),
        c,
        &members,
        req,
        Some(3),
        Some(r#"{"version":1}"#.into()),
        NOW,
        &mut |done, total| ticks.push((done, total)),
    )
    .unwrap_or_else(|e| panic!("export {:?} failed: {e}", req.format));
    assert_eq!(ticks.last(), Some(&(10, 10)));
    summary
}

/// Header and rows of a written file (BOM stripped, reported).
fn read(path: &Path, delimiter: u8) -> (bool, Vec<String>, Vec<Vec<String>>) {
    let bytes = std::fs::read(path).unwrap();
    let bom = bytes.starts_with(b"\xEF\xBB\xBF");
    let body = if bom { &bytes[3..] } else { &bytes[..] };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .from_reader(body);
    let header = rdr.headers().unwrap().iter().map(String::from).collect();
    let rows = rdr
        .records()
        .map(|r| r.unwrap().iter().map(String::from).collect())
        .collect();
    (bom, header, rows)
}

fn sha(s: &str) -> String {
    Sha256::digest(s.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn reasons(pairs: &[(&str, u64)]) -> BTreeMap<String, u64> {
    let mut m: BTreeMap<String, u64> = [
        "suppression_list",
        "bounced",
        "unsubscribed",
        "no_consent",
        "missing_address",
    ]
    .into_iter()
    .map(|r| (r.to_owned(), 0))
    .collect();
    for (k, v) in pairs {
        m.insert((*k).to_owned(), *v);
    }
    m
}

const FORMULA: &str = "=HYPERLINK(\"http://evil.example/\",\"x\")";

fn import_suppressions(f: &mut Fixture) -> campaigns::SuppressionImport {
    let path = f.path("do-not-contact.csv");
    std::fs::write(&path, SUPPRESSION).unwrap();
    campaigns::import_suppression_list(f.ws.conn_mut(), &path, "", NOW).unwrap()
}

#[test]
fn suppression_list_import_normalises_and_reports_bad_rows() {
    let mut f = fixture();
    let report = import_suppressions(&mut f);
    assert_eq!(report.rows, 4);
    assert_eq!(report.added, 2);
    assert_eq!(
        report.skipped_invalid.len(),
        2,
        "{:?}",
        report.skipped_invalid
    );
    assert_eq!(
        report.skipped_invalid[0].0, 4,
        "spreadsheet row of not-an-email"
    );
    assert_eq!(
        report.skipped_invalid[1],
        (5, "no email or phone".to_owned())
    );
    let stored: Vec<(String, String, String, String)> =
        f.ws.conn()
            .prepare("SELECT kind, value, reason, source FROM suppressions ORDER BY kind")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
    assert_eq!(
        stored,
        [
            (
                "email".into(),
                "frank@shopmail.net".into(),
                "suppression list".into(),
                "do-not-contact.csv".into()
            ),
            (
                "phone".into(),
                "+14165550123".into(),
                "suppression list".into(),
                "do-not-contact.csv".into()
            ),
        ]
    );
    // Importing again adds nothing.
    let again = import_suppressions(&mut f);
    assert_eq!((again.added, again.already_listed), (0, 2));

    let no_column = f.path("names.csv");
    std::fs::write(&no_column, "Name\nAnna\n").unwrap();
    let err = campaigns::import_suppression_list(f.ws.conn_mut(), &no_column, "", NOW).unwrap_err();
    assert!(
        matches!(err, CampaignError::NoAddressColumn { .. }),
        "{err}"
    );
}

#[test]
fn campaign_crud_validates() {
    let f = fixture();
    let c = campaign(&f, "Spring sale", Channel::Email, 10.0);
    assert_eq!(c.salt.len(), 32);
    assert_eq!(campaigns::get(f.ws.conn(), c.id).unwrap().unwrap(), c);
    let new = |name: &str, segment: i64, pct: f64| NewCampaign {
        name: name.into(),
        segment_id: segment,
        channel: Channel::Sms,
        template: None,
        holdout_percent: pct,
    };
    let conn = f.ws.conn();
    assert!(matches!(
        campaigns::create(conn, new("  ", f.segment, 0.0), NOW),
        Err(CampaignError::EmptyName)
    ));
    assert!(matches!(
        campaigns::create(conn, new("Spring sale", f.segment, 0.0), NOW),
        Err(CampaignError::NameTaken(_))
    ));
    assert!(matches!(
        campaigns::create(conn, new("B", f.segment, 100.0), NOW),
        Err(CampaignError::HoldoutOutOfRange(_))
    ));
    assert!(matches!(
        campaigns::create(conn, new("B", f.segment, -1.0), NOW),
        Err(CampaignError::HoldoutOutOfRange(_))
    ));
    assert!(matches!(
        campaigns::create(conn, new("B", 999, 0.0), NOW),
        Err(CampaignError::UnknownSegment(999))
    ));
    let b = campaigns::create(conn, new("B", f.segment, 0.0), NOW).unwrap();
    assert_ne!(b.salt, c.salt);
    let updated = campaigns::update(
        conn,
        b.id,
        CampaignUpdate {
            name: Some("SMS blast".into()),
            template: Some(Some("welcome".into())),
            ..Default::default()
        },
        "2026-11-02T00:00:00Z",
    )
    .unwrap();
    assert_eq!(updated.name, "SMS blast");
    assert_eq!(updated.template.as_deref(), Some("welcome"));
    assert_eq!(updated.salt, b.salt);
    assert_eq!(updated.updated_at, "2026-11-02T00:00:00Z");
    assert!(matches!(
        campaigns::update(
            conn,
            b.id,
            CampaignUpdate {
                name: Some("Spring sale".into()),
                ..Default::default()
            },
            NOW
        ),
        Err(CampaignError::NameTaken(_))
    ));
    let names: Vec<String> = campaigns::list(conn)
        .unwrap()
        .into_iter()
        .map(|c| c.name)
        .collect();
    assert_eq!(names, ["SMS blast", "Spring sale"]);
    campaigns::delete(conn, b.id).unwrap();
    assert!(campaigns::get(conn, b.id).unwrap().is_none());
    assert!(matches!(
        campaigns::delete(conn, b.id),
        Err(CampaignError::NotFound(_))
    ));
}

#[test]
fn email_exports_suppress_by_reason_and_neutralise_formulas() {
    let mut f = fixture();
    import_suppressions(&mut f);
    let c = campaign(&f, "Newsletter", Channel::Email, 0.0);

    // Expected, from the fixture: Anna and Carla reach; each other person
    // under exactly one reason.
    let expected = reasons(&[
        ("suppression_list", 2), // Frank (email), Kim (phone)
        ("bounced", 2),          // Hal (Mailchimp cleaned file), Ivy (raw `cleaned`)
        ("unsubscribed", 2),     // Dan (Shopify no), Jack (Mailchimp unsubscribed file)
        ("no_consent", 1),       // Eve
        ("missing_address", 1),  // Gina, no email
    ]);
    let audience = campaigns::preview(f.ws.conn(), &c, &f.members).unwrap();
    assert_eq!(audience.members, 10);
    assert_eq!(audience.held_out, 0);
    assert_eq!(audience.suppressed_by_reason, expected);
    assert_eq!(audience.suppressed, 8);
    assert_eq!(audience.included, 2);

    // Generic CSV with a BOM.
    let s = export_as(&mut f, &c, Format::Csv, "generic.csv", true);
    assert_eq!(
        (s.members, s.held_out, s.suppressed, s.exported),
        (10, 0, 8, 2)
    );
    assert_eq!(s.suppressed_by_reason, expected);
    let (bom, header, rows) = read(&s.path, b',');
    assert!(bom);
    assert_eq!(
        header,
        ["email", "first_name", "last_name", "phone", "country"]
    );
    assert_eq!(
        rows,
        [
            vec!["anna@shopmail.net", "Anna", "Smith", "'+14155552671", "US"],
            vec![
                "carla@shopmail.net",
                &format!("'{FORMULA}"),
                "Jones",
                "'+447911123456",
                "GB"
            ],
        ]
    );
    // The log row matches the file.
    let bytes = std::fs::read(&s.path).unwrap();
    assert_eq!(s.bytes, bytes.len() as u64);
    assert_eq!(s.sha256, format!("{:x}", Sha256::digest(&bytes)));
    let log = campaigns::exports(f.ws.conn(), Some(c.id)).unwrap();
    assert_eq!(log.len(), 1);
    let row = &log[0];
    assert_eq!(row.id, s.export_id);
    assert_eq!((row.format.as_str(), row.at.as_str()), ("csv", NOW));
    assert_eq!((row.segment_id, row.segment_version), (f.segment, Some(3)));
    assert_eq!(row.definition.as_deref(), Some(r#"{"version":1}"#));
    assert_eq!(
        (row.members, row.held_out, row.suppressed, row.exported),
        (10, 0, 8, 2)
    );
    assert_eq!(row.suppressed_by_reason, expected);
    assert_eq!(
        (row.sha256.as_str(), row.bytes),
        (s.sha256.as_str(), s.bytes)
    );

    // Chosen columns, a trait among them; unknown columns are refused.
    let mut req = request(&f, Format::Csv, "chosen.csv", false);
    req.columns = vec![
        "id".into(),
        "first_name".into(),
        "city".into(),
        "revenue".into(),
    ];
    let s = run(&mut f, &c, &req);
    let (bom, header, rows) = read(&s.path, b',');
    assert!(!bom);
    assert_eq!(header, ["id", "first_name", "city", "revenue"]);
    assert_eq!(rows[0][0], f.id("anna@shopmail.net").to_string());
    assert_eq!(rows[0][2], "San Francisco");
    req.columns = vec!["email".into(), "password".into()];
    req.path = f.path("bad.csv");
    let err = campaigns::export(
        f.ws.conn_mut(),
        &c,
        &f.members.clone(),
        &req,
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, CampaignError::UnknownColumn { .. }), "{err}");
    assert!(!req.path.exists());

    // Tools that parse phones get E.164 untouched; names are neutralised.
    let s = export_as(&mut f, &c, Format::Brevo, "brevo.csv", false);
    let text = std::fs::read_to_string(&s.path).unwrap();
    assert!(
        text.starts_with("EMAIL;FIRSTNAME;LASTNAME;SMS\r\n"),
        "{text}"
    );
    let (_, _, rows) = read(&s.path, b';');
    assert_eq!(
        rows[0],
        ["anna@shopmail.net", "Anna", "Smith", "+14155552671"]
    );
    assert_eq!(
        rows[1],
        [
            "carla@shopmail.net",
            &format!("'{FORMULA}"),
            "Jones",
            "+447911123456"
        ]
    );

    let s = export_as(&mut f, &c, Format::Mailchimp, "mailchimp.csv", true);
    let (bom, header, rows) = read(&s.path, b',');
    assert!(bom);
    assert_eq!(
        header,
        [
            "Email Address",
            "First Name",
            "Last Name",
            "Phone Number",
            "Address",
            "Birthday",
            "Company"
        ]
    );
    assert_eq!(
        rows[0],
        [
            "anna@shopmail.net",
            "Anna",
            "Smith",
            "+14155552671",
            "1 Main St  San Francisco  CA  94102-1234  US",
            "07/09",
            ""
        ]
    );
    assert_eq!(rows[1][1], format!("'{FORMULA}"));
    assert_eq!(rows[1][3], "+447911123456");
    assert_eq!(rows[1][5], "12/31");

    let s = export_as(&mut f, &c, Format::Klaviyo, "klaviyo.csv", false);
    let (_, header, rows) = read(&s.path, b',');
    assert_eq!(
        &header[..4],
        ["Email", "First Name", "Last Name", "Phone Number"]
    );
    assert_eq!(rows[1][1], format!("'{FORMULA}"));
    assert_eq!(rows[1][3], "+447911123456");

    let s = export_as(&mut f, &c, Format::Hubspot, "hubspot.csv", false);
    let (_, header, rows) = read(&s.path, b',');
    assert_eq!(
        &header[..4],
        ["Email", "First Name", "Last Name", "Phone Number"]
    );
    assert!(header.contains(&"Country/Region".to_owned()));
    assert_eq!(rows[1][1], format!("'{FORMULA}"));
    assert_eq!(rows[1][3], "+447911123456");

    // No cell of any file starts a formula.
    for name in [
        "generic.csv",
        "chosen.csv",
        "brevo.csv",
        "mailchimp.csv",
        "klaviyo.csv",
        "hubspot.csv",
    ] {
        let delimiter = if name == "brevo.csv" { b';' } else { b',' };
        let (_, _, rows) = read(&f.path(name), delimiter);
        for cell in rows.iter().flatten() {
            assert!(!cell.starts_with('='), "{name}: {cell}");
        }
    }
    assert_eq!(campaigns::exports(f.ws.conn(), None).unwrap().len(), 6);
    // Nothing temporary left behind.
    let leftovers: Vec<_> = std::fs::read_dir(&f.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn sms_channel_needs_sms_consent_and_a_phone() {
    let mut f = fixture();
    import_suppressions(&mut f);
    let c = campaign(&f, "Texts", Channel::Sms, 0.0);
    // SMS consent granted: Anna, Carla, Frank, Gina, Kim; Frank and Kim
    // are on the suppression list (which comes before Frank's missing phone).
    let s = export_as(&mut f, &c, Format::Klaviyo, "sms.csv", false);
    assert_eq!(
        s.suppressed_by_reason,
        reasons(&[
            ("suppression_list", 2), // Frank (email), Kim (phone)
            ("unsubscribed", 4),     // Dan, Hal, Ivy, Jack said no to SMS
            ("no_consent", 1),       // Eve never answered
        ])
    );
    assert_eq!(s.exported, 3);
    let (_, header, rows) = read(&s.path, b',');
    assert_eq!(header[0], "Phone Number", "Klaviyo's first column for SMS");
    let phones: Vec<&str> = rows.iter().map(|r| r[0].as_str()).collect();
    assert_eq!(phones, ["+14155552671", "+447911123456", "+61412345678"]);
}

#[test]
fn ad_exports_hash_per_platform() {
    let mut f = fixture();
    let c = campaign(&f, "Lookalike seed", Channel::Ads, 0.0);
    // Ads consent: Anna and Carla granted, Eve denied, the rest unknown.
    let s = export_as(&mut f, &c, Format::Meta, "meta.csv", true);
    assert_eq!(s.exported, 2);
    assert_eq!(
        s.suppressed_by_reason,
        reasons(&[("unsubscribed", 1), ("no_consent", 7)])
    );
    assert!(
        s.warnings.iter().any(|w| w.contains("under 100")),
        "{:?}",
        s.warnings
    );
    assert!(
        s.warnings.iter().any(|w| w.contains("BOM")),
        "{:?}",
        s.warnings
    );
    let (bom, header, rows) = read(&s.path, b',');
    assert!(!bom, "Meta wants plain UTF-8");
    assert_eq!(
        header,
        [
            "email", "phone", "fn", "ln", "ct", "st", "zip", "country", "doby", "dobm", "dobd",
            "gen"
        ]
    );
    let anna: Vec<String> = [
        "anna@shopmail.net",
        "14155552671",
        "anna",
        "smith",
        "sanfrancisco",
        "ca",
        "94102",
        "us",
        "1984",
        "07",
        "09",
        "f",
    ]
    .iter()
    .map(|v| sha(v))
    .collect();
    assert_eq!(rows[0], anna);
    // Carla's formula name is hashed after normalisation (letters and digits).
    assert_eq!(rows[1][2], sha("hyperlinkhttpevilexamplex"));
    assert_eq!(rows[1][3], sha("jones"));
    assert_eq!(rows[1][4], sha("london"));
    assert_eq!(rows[1][5], "", "no region: empty, not the hash of nothing");
    assert_eq!(rows[1][6], sha("sw1a1aa"));
    assert_eq!(rows[1][11], sha("f"));
    for cell in rows.iter().flatten() {
        assert!(
            cell.is_empty()
                || (cell.len() == 64
                    && cell
                        .bytes()
                        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()))
        );
    }

    let s = export_as(&mut f, &c, Format::GoogleAds, "google.csv", true);
    let bytes = std::fs::read(&s.path).unwrap();
    assert!(bytes.starts_with(b"Email,Phone,First Name,Last Name,Country,Zip\r\n"));
    let (_, _, rows) = read(&s.path, b',');
    assert_eq!(
        rows[0],
        [
            sha("anna@shopmail.net"),
            sha("+14155552671"),
            sha("anna"),
            sha("smith"),
            "US".into(),
            "94102-1234".into()
        ]
    );
    assert_eq!(rows[1][2], sha(&FORMULA.to_lowercase()));
    assert_eq!(&rows[1][4..], ["GB", "SW1A 1AA"]);
    assert_eq!(
        campaigns::exports(f.ws.conn(), Some(c.id)).unwrap().len(),
        2
    );
}

#[test]
fn holdout_is_stored_on_first_export_and_never_exported() {
    let mut f = fixture();
    let c = campaign(&f, "Holdout test", Channel::Email, 50.0);
    // Without the suppression list, four members can be sent to (Anna,
    // Carla, Frank, Kim); the other six are suppressed for a reason.
    let mut eligible: Vec<i64> = [
        "anna@shopmail.net",
        "carla@shopmail.net",
        "frank@shopmail.net",
        "kim@shopmail.net",
    ]
    .iter()
    .map(|e| f.id(e))
    .collect();
    eligible.sort_unstable();
    let suppressed: Vec<i64> = f
        .members
        .iter()
        .copied()
        .filter(|id| !eligible.contains(id))
        .collect();
    // A salt under which the hash picks some suppressed and some eligible
    // members, and leaves some eligible ones (so the test can fail).
    let by_hash = |salt: &str| -> Vec<i64> {
        f.members
            .iter()
            .copied()
            .filter(|&id| campaigns::is_held_out(salt, 50.0, id))
            .collect()
    };
    let salt = (0..1000)
        .map(|i| format!("{i:032x}"))
        .find(|salt| {
            let h = by_hash(salt);
            h.iter().any(|id| suppressed.contains(id))
                && h.iter().any(|id| eligible.contains(id))
                && eligible.iter().any(|id| !h.contains(id))
        })
        .unwrap();
    f.ws.conn()
        .execute(
            "UPDATE campaigns SET salt = ?1 WHERE id = ?2",
            rusqlite::params![salt, c.id],
        )
        .unwrap();
    let c = campaigns::get(f.ws.conn(), c.id).unwrap().unwrap();
    let hashed = by_hash(&c.salt);

    // The holdout is drawn from the eligible only; suppression counts
    // everyone it applies to, whatever the hash says.
    let held = campaigns::holdout_members(f.ws.conn(), &c, &f.members).unwrap();
    let expected: Vec<i64> = hashed
        .iter()
        .copied()
        .filter(|id| eligible.contains(id))
        .collect();
    assert_eq!(held, expected);
    let preview = campaigns::preview(f.ws.conn(), &c, &f.members).unwrap();
    assert_eq!(preview.held_out, held.len() as u64);
    assert_eq!(preview.suppressed, 6);
    assert_eq!(preview.included, 4 - held.len() as u64);

    let mut req = request(&f, Format::Csv, "holdout.csv", false);
    req.columns = vec!["id".into()];
    let s = run(&mut f, &c, &req);
    assert_eq!(
        (s.held_out, s.suppressed, s.exported),
        (held.len() as u64, 6, 4 - held.len() as u64)
    );
    let stored_of = |f: &Fixture| -> Vec<i64> {
        f.ws.conn()
            .prepare(
                "SELECT profile_id FROM campaign_holdout WHERE campaign_id = ?1 ORDER BY profile_id",
            )
            .unwrap()
            .query_map([c.id], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap()
    };
    // Stored: the eligible held out, never a suppressed person.
    assert_eq!(stored_of(&f), held);
    let (_, _, rows) = read(&s.path, b',');
    assert_eq!(rows.len() as u64, s.exported);
    for row in &rows {
        let id: i64 = row[0].parse().unwrap();
        assert!(!held.contains(&id), "held-out profile {id} exported");
        assert!(eligible.contains(&id), "suppressed profile {id} exported");
    }
    // The stored set wins: a profile stored as held out stays held out...
    let sent = eligible
        .iter()
        .copied()
        .find(|id| !held.contains(id))
        .unwrap();
    // ...unless it is suppressed by then: suppression comes first.
    let dan = f.id("dan@shopmail.net");
    for id in [sent, dan] {
        f.ws.conn()
            .execute(
                "INSERT OR IGNORE INTO campaign_holdout (campaign_id, profile_id) VALUES (?1, ?2)",
                [c.id, id],
            )
            .unwrap();
    }
    let after = campaigns::holdout_members(f.ws.conn(), &c, &f.members).unwrap();
    assert!(after.contains(&sent));
    assert!(!after.contains(&dan));
    let s2 = run(&mut f, &c, &req);
    let (_, _, rows) = read(&s2.path, b',');
    assert!(rows.iter().all(|r| r[0] != sent.to_string()));
    assert_eq!(s2.held_out, after.len() as u64);
    assert_eq!(s2.suppressed, 6);

    // The percentage is fixed once exported.
    let err = campaigns::update(
        f.ws.conn(),
        c.id,
        CampaignUpdate {
            holdout_percent: Some(10.0),
            ..Default::default()
        },
        NOW,
    )
    .unwrap_err();
    assert!(matches!(err, CampaignError::HoldoutLocked { .. }), "{err}");
}

#[test]
fn failed_export_leaves_no_file_and_no_log_row() {
    let mut f = fixture();
    let c = campaign(&f, "Nowhere", Channel::Email, 0.0);
    let target = f.path("no-such-folder").join("out.csv");
    let err = campaigns::export(
        f.ws.conn_mut(),
        &c,
        &f.members.clone(),
        &ExportRequest {
            format: Format::Csv,
            columns: Vec::new(),
            bom: false,
            path: target.clone(),
            pseudonymise: false,
        },
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, CampaignError::Write { .. }), "{err}");
    assert_eq!(err.code(), "io");
    assert!(!target.exists());
    assert!(!f.path("no-such-folder").exists());
    // A target that is a folder: the file is written, the rename fails.
    let folder = f.path("a-folder.csv");
    std::fs::create_dir(&folder).unwrap();
    std::fs::write(folder.join("keep"), "x").unwrap();
    let err = campaigns::export(
        f.ws.conn_mut(),
        &c,
        &f.members.clone(),
        &ExportRequest {
            format: Format::Meta,
            columns: Vec::new(),
            bom: false,
            path: folder.clone(),
            pseudonymise: false,
        },
        None,
        None,
        NOW,
        &mut |_, _| {},
    )
    .unwrap_err();
    assert!(matches!(err, CampaignError::Write { .. }), "{err}");
    assert!(folder.is_dir());
    assert!(campaigns::exports(f.ws.conn(), None).unwrap().is_empty());
    let holdout: i64 =
        f.ws.conn()
            .query_row("SELECT count(*) FROM campaign_holdout", [], |r| r.get(0))
            .unwrap();
    assert_eq!(holdout, 0);
    let leftovers: Vec<_> = std::fs::read_dir(&f.dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".part"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// The real `cohort` binary on the fixture's workspace file.
fn cohort_cli(ws: &Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_cohort"))
        .arg("--workspace")
        .arg(ws)
        .args(args)
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// A fixture whose "Everyone" segment holds every profile (the CLI
/// evaluates the segment itself) and an email campaign without holdout.
fn cli_fixture() -> Fixture {
    let f = fixture();
    for id in &f.members {
        f.ws.conn()
            .execute(
                "INSERT INTO segment_members (segment_id, profile_id) VALUES (?1, ?2)",
                [f.segment, *id],
            )
            .unwrap();
    }
    campaign(&f, "For analysts", Channel::Email, 0.0);
    f
}

fn pseudonymised_export(
    f: &Fixture,
    file: &str,
) -> (serde_json::Value, Vec<String>, Vec<Vec<String>>) {
    let out = f.path(file);
    let run = cohort_cli(
        f.ws.path(),
        &[
            "--json",
            "campaign",
            "export",
            "For analysts",
            "--format",
            "csv",
            "--columns",
            "profile_id,email,first_name,last_name,phone,country,postcode",
            "--out",
            out.to_str().unwrap(),
            "--pseudonymise",
        ],
    );
    assert!(
        run.status.success(),
        "export failed: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    let summary: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    let text = std::fs::read_to_string(&out).unwrap();
    // Nothing readable about anyone: no email, name, phone digits or postcode.
    for raw in [
        "@shopmail.net",
        "anna",
        "Anna",
        "Smith",
        "Jones",
        "4155552671",
        "7911123456",
        "94102",
        "SW1A",
    ] {
        assert!(
            !text.contains(raw),
            "{raw} is in the pseudonymised file:\n{text}"
        );
    }
    let (_, header, rows) = read(&out, b',');
    (summary, header, rows)
}

#[test]
fn pseudonymised_csv_export_through_the_cli() {
    let f = cli_fixture();
    let (summary, header, rows) = pseudonymised_export(&f, "analysts.csv");
    assert_eq!(header, ["profile_id", "email", "phone", "country"]);
    assert!(!rows.is_empty());
    assert_eq!(summary["exported"].as_u64(), Some(rows.len() as u64));
    let warnings = summary["warnings"].to_string();
    assert!(
        warnings.contains("first_name, last_name, postcode left out"),
        "{warnings}"
    );
    let is_pseudonym =
        |s: &str| s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    for row in &rows {
        assert!(is_pseudonym(&row[0]), "profile id {row:?}");
        assert!(is_pseudonym(&row[1]), "email {row:?}");
        assert!(row[2].is_empty() || is_pseudonym(&row[2]), "phone {row:?}");
        assert_eq!(row[3].len(), 2, "the country is kept: {row:?}");
    }
    // Not the unkeyed SHA-256 an ad platform would match.
    let emails: Vec<&str> = rows.iter().map(|r| r[1].as_str()).collect();
    assert!(!emails.contains(&sha("anna@shopmail.net").as_str()));
    // The key is the workspace's, stored as 64 hex digits.
    let key: String =
        f.ws.conn()
            .query_row(
                "SELECT value FROM settings WHERE key = 'pseudonym_key'",
                [],
                |r| r.get(0),
            )
            .unwrap();
    assert!(is_pseudonym(&key));

    // Again: the same people get the same pseudonyms.
    let (_, _, again) = pseudonymised_export(&f, "analysts-again.csv");
    assert_eq!(again, rows);

    // Another workspace with the same people: other pseudonyms.
    let g = cli_fixture();
    let (_, _, other) = pseudonymised_export(&g, "other.csv");
    assert_eq!(other.len(), rows.len());
    for (a, b) in rows.iter().zip(&other) {
        assert_ne!(a[0], b[0]);
        assert_ne!(a[1], b[1]);
    }

    // Destinations that cannot be pseudonymised are refused, saying why,
    // and write nothing.
    for (format, why) in [
        ("meta", "already hashed"),
        ("google_ads", "already hashed"),
        ("mailchimp", "real addresses"),
    ] {
        let out = f.path(&format!("refused-{format}.csv"));
        let run = cohort_cli(
            f.ws.path(),
            &[
                "campaign",
                "export",
                "For analysts",
                "--format",
                format,
                "--out",
                out.to_str().unwrap(),
                "--pseudonymise",
            ],
        );
        assert!(!run.status.success(), "{format} was pseudonymised");
        let err = String::from_utf8_lossy(&run.stderr);
        assert!(
            err.contains("cannot be pseudonymised") && err.contains(why),
            "{format}: {err}"
        );
        assert!(!out.exists());
    }
}
