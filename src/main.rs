//! `cohort`: the command-line face of the engine. Flags are parsed and
//! checked here; all work is done by `cohort::*` functions.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use cohort::ingest::{self, ImportOptions, ImportReport, Kind};
use cohort::progress::{Progress, Tick};
use cohort::store::{setting, Workspace};
use comfy_table::{presets::UTF8_FULL_CONDENSED, Table};

mod consent_cli;
mod identity_cli;
mod insights_cli;
mod privacy_cli;
mod recommend_cli;
mod results_cli;
mod segments_cli;
mod serve;
mod templates_cli;
mod workspace_cli;

// Imports allocate on one thread and free on another; glibc malloc spends a
// quarter of an import in its arena locks, mimalloc a fraction of that.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "cohort",
    version,
    about = "Cohort: one clean view of every customer, from your CSV exports"
)]
struct Cli {
    /// Workspace file (default: workspace.cohort in your data folder, or $COHORT_WORKSPACE).
    #[arg(long, global = true, env = "COHORT_WORKSPACE")]
    workspace: Option<PathBuf>,
    /// Print machine-readable JSON instead of tables.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the workspace (or bring an existing one up to date).
    Init {
        /// Region for phone numbers written without a country code (ISO 3166, e.g. US, GB, DE).
        #[arg(long)]
        region: Option<String>,
        /// Currency for amounts written without one (ISO 4217, e.g. USD, EUR).
        #[arg(long)]
        currency: Option<String>,
    },
    /// Import a CSV export.
    Import {
        file: PathBuf,
        #[command(flatten)]
        how: HowToRead,
        /// Import again even if this exact file was imported before.
        #[arg(long)]
        force: bool,
        /// Name of the source the records belong to (default: the preset's name).
        #[arg(long)]
        source: Option<String>,
    },
    /// Show how a file would be imported, with its first rows. Changes nothing.
    Preview {
        file: PathBuf,
        #[command(flatten)]
        how: HowToRead,
        /// Rows to show.
        #[arg(long, default_value_t = 10)]
        rows: usize,
    },
    /// List past imports, newest first.
    Imports,
    /// Show the rows an import rejected (and, with --warnings, the values it flagged).
    Rejects {
        /// Import number, as `cohort imports` lists it.
        import: i64,
        /// Show flagged values (kept raw) instead of rejected rows.
        #[arg(long)]
        warnings: bool,
        #[arg(long, default_value_t = 100)]
        limit: u64,
    },
    /// Write realistic demo exports (Shopify, HubSpot, Mailchimp, GA4, a catalogue) and optionally import them.
    Demo {
        #[arg(long, default_value_t = 1000)]
        customers: u64,
        /// Folder for the CSV files.
        #[arg(long, default_value = "cohort-demo")]
        out: PathBuf,
        /// Import the files into the workspace afterwards.
        #[arg(long)]
        import: bool,
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Multiply the rate of recording errors (nicknames, typos, dropped accents, …) by this, from 0 to 5.
        #[arg(long, default_value_t = 1.0)]
        noise: f64,
    },
    /// Counts of what the workspace holds.
    Stats,
    /// Resolve identities: one profile per person from every source record.
    /// Incremental after the first run; --full recomputes everything.
    Resolve {
        #[arg(long)]
        full: bool,
        /// With --full: skip the backup taken before re-resolving an already resolved workspace.
        #[arg(long, requires = "full")]
        no_backup: bool,
        /// Merge pairs at or above this match probability (kept for later runs; default: from the fitted model).
        #[arg(long, value_name = "PROBABILITY")]
        threshold: Option<f64>,
        /// Send pairs from this probability up to the threshold to review (kept for later runs).
        #[arg(long, value_name = "PROBABILITY")]
        review_from: Option<f64>,
        /// Most distinct emails (and, separately, phones) one profile may hold (default 5; kept).
        #[arg(long, value_name = "N")]
        cap: Option<usize>,
        /// An identifier shared by more people than this links no one (default 2; kept).
        #[arg(long, value_name = "N")]
        max_people_per_identifier: Option<usize>,
    },
    /// Search profiles by name, email, phone or id (no query: list them).
    Profiles {
        query: Vec<String>,
        #[arg(long, default_value_t = 20)]
        limit: u64,
    },
    /// Show one profile: its values and their origin, identities, records, links, timeline.
    Profile { id: i64 },
    /// Borderline pairs waiting for a person's decision; decide with --same or --different.
    Review {
        /// Merge this pair's records: they are the same person.
        #[arg(long, value_name = "PAIR")]
        same: Option<i64>,
        /// Keep this pair's records apart for good.
        #[arg(long, value_name = "PAIR", conflicts_with = "same")]
        different: Option<i64>,
        /// Decide in bulk: every waiting pair at or above this probability is the same person.
        #[arg(long, value_name = "P", conflicts_with_all = ["same", "different"])]
        same_from: Option<f64>,
        /// Decide in bulk: every waiting pair below this probability is different people.
        #[arg(long, value_name = "P", conflicts_with_all = ["same", "different"])]
        different_below: Option<f64>,
        /// With a bulk decision: skip the backup taken first.
        #[arg(long)]
        no_backup: bool,
        #[arg(long, default_value_t = 10)]
        limit: u64,
    },
    /// Undo merges: split a profile back into its records, or --record ID to split one record off.
    Unmerge {
        profile: Option<i64>,
        #[arg(long, value_name = "RECORD")]
        record: Option<i64>,
    },
    /// Show or change how each profile field picks its value among a person's
    /// records; a change rebuilds every profile.
    Survivorship {
        /// The rule of fields not set one by one: most_recent, source_priority or most_frequent.
        #[arg(long, value_name = "RULE")]
        default: Option<String>,
        /// One field's rule, e.g. `--field email=source_priority` (repeatable; `field=default` drops it).
        #[arg(long = "field", value_name = "FIELD=RULE")]
        fields: Vec<String>,
        /// Source names, best first, comma-separated, for source_priority.
        #[arg(long, value_name = "SOURCES")]
        priority: Option<String>,
    },
    /// Merges the guard rails refused, and why.
    Refused {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Who merged, split or decided what, newest first.
    Audit {
        #[arg(long, default_value_t = 50)]
        limit: u64,
    },
    /// Erase a person on request: every record, profile, trait, membership and trace in the file.
    Erase {
        #[command(flatten)]
        who: privacy_cli::Who,
        /// Keep their orders and events as anonymous rows (no link to anyone) instead of deleting them.
        #[arg(long)]
        keep_activity: bool,
        /// Show what would be removed, change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Do not ask for confirmation.
        #[arg(long)]
        yes: bool,
    },
    /// A person's data: export everything held about them.
    Person {
        #[command(subcommand)]
        what: privacy_cli::PersonCommand,
    },
    /// Retention rules: how long events, orders, problem rows, results and the audit log are kept.
    Retention {
        #[command(subcommand)]
        what: privacy_cli::RetentionCommand,
    },
    /// The workspace audit log (imports, merges, exports, erasures, retention…), newest first.
    AuditLog {
        /// Only this action (import, resolve, erase, person_export, campaign_export, retention…).
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 50)]
        limit: u64,
        /// Write the whole log to this CSV file instead.
        #[arg(long, value_name = "FILE")]
        csv: Option<PathBuf>,
    },
    /// Computed traits: order statistics, engagement, RFM, predicted purchases, churn and CLV.
    Traits {
        #[command(subcommand)]
        what: TraitsCommand,
    },
    /// Group profiles that behave alike (k-means, DBSCAN, Gaussian mixture) on their traits.
    Cluster {
        #[command(subcommand)]
        what: ClusterCommand,
    },
    /// Product recommendations: train (popularity, item-item, ALS, content, hybrid), look up, similar products.
    Recommend {
        #[command(subcommand)]
        what: RecommendCommand,
    },
    /// Saved segments.
    Segments,
    /// Build, count, save and compare segments from rules (JSON, see `cohort segment fields`).
    Segment {
        #[command(subcommand)]
        what: SegmentCommand,
    },
    /// Campaigns: a segment on a channel with a holdout, exported for an email tool or ad platform.
    Campaign {
        #[command(subcommand)]
        what: CampaignCommand,
    },
    /// Encrypt the workspace at rest (SQLCipher), or change its passphrase. Reads the passphrase from $COHORT_PASSPHRASE or stdin.
    Encrypt {
        /// Read the passphrase from stdin even if $COHORT_PASSPHRASE is set.
        #[arg(long)]
        passphrase_stdin: bool,
        /// Keep the passphrase in the OS keychain so the workspace opens without asking.
        #[arg(long)]
        remember: bool,
    },
    /// Turn an encrypted workspace back into a plain SQLite file.
    Decrypt,
    /// Backups of the workspace: create, list, restore, how many to keep.
    Backup {
        #[command(subcommand)]
        what: workspace_cli::BackupCommand,
    },
    /// Add a suppression list (a CSV with an email and/or phone column): never exported again.
    Suppress {
        file: PathBuf,
        /// Why these addresses are suppressed, as reports show it.
        #[arg(long, default_value = "suppression list")]
        reason: String,
    },
    /// Consent per profile and channel from the consent ledger: show, set by hand, overview, settings.
    Consent {
        #[command(subcommand)]
        what: consent_cli::ConsentCommand,
    },
    /// Write a chart (RFM grid, CLV, churn, clusters…) as .svg or .png.
    Chart {
        /// rfm_grid, revenue_by_segment, clv_distribution, churn_risk; with --run:
        /// cluster_scatter, cluster_sizes, cluster_profiles, k_selection;
        /// recommend_ndcg, recommend_recall (the latest recommendation evaluation).
        name: String,
        /// A clustering run, for cluster charts.
        #[arg(long)]
        run: Option<i64>,
        /// Output file; .svg or .png.
        #[arg(long)]
        out: PathBuf,
        #[arg(long, default_value_t = 960)]
        width: u32,
        #[arg(long, default_value_t = 560)]
        height: u32,
    },
    /// Measure results against ground truth.
    Eval {
        #[command(subcommand)]
        what: EvalCommand,
    },
    /// Personalised message templates: save, preview, lint, translate to an email tool's merge tags.
    Template {
        #[command(subcommand)]
        what: templates_cli::TemplateCommand,
    },
    /// Reusable content blocks for templates: snippets, or content chosen by segment.
    Block {
        #[command(subcommand)]
        what: templates_cli::BlockCommand,
    },
    /// Serve the app in a browser, on this computer only (127.0.0.1), behind a per-launch token.
    Serve {
        /// Port (0: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Folder with the built web UI (default: ui/dist next to the current folder).
        #[arg(long)]
        ui: Option<PathBuf>,
    },
}

#[derive(Subcommand)]
enum SegmentCommand {
    /// Count the profiles a rule selects (RULE: a JSON file, or - for standard input).
    Count {
        rule: PathBuf,
        /// Profile ids to show as a sample.
        #[arg(long, default_value_t = 10)]
        sample: usize,
    },
    /// Save a rule as a segment: dynamic (evaluated when used) unless --static.
    Save {
        name: String,
        rule: PathBuf,
        /// Keep today's members as a dated snapshot instead of the rule.
        #[arg(long = "static")]
        is_static: bool,
    },
    /// Save a new version of a segment's rule (a static segment takes a new snapshot).
    Edit { segment: String, rule: PathBuf },
    /// A segment's rule versions and size history.
    Show { segment: String },
    /// A segment's members (profile ids), one per line.
    Members {
        segment: String,
        #[arg(long)]
        limit: Option<usize>,
    },
    /// How many profiles each pair of segments shares.
    Overlap {
        #[arg(required = true, num_args = 2..)]
        segments: Vec<String>,
    },
    /// Re-evaluate dynamic segments and record who entered and left.
    Refresh,
    /// Delete a segment (refused while a campaign or another segment uses it).
    Delete { segment: String },
    /// The fields a rule can test, with their types.
    Fields,
}

#[derive(Subcommand)]
enum CampaignCommand {
    /// Create a campaign on a segment.
    Create {
        name: String,
        /// The segment (id or name).
        #[arg(long)]
        segment: String,
        /// email, sms or ads.
        #[arg(long, default_value = "email")]
        channel: String,
        /// Percent of the segment held back to measure uplift (never exported).
        #[arg(long, default_value_t = 10.0)]
        holdout: f64,
        #[arg(long)]
        template: Option<String>,
    },
    /// Every campaign.
    List,
    /// Who the campaign would reach now: members, held out, suppressed by reason, included.
    Audience { campaign: String },
    /// Export the campaign's audience for a tool.
    Export {
        campaign: String,
        /// csv, mailchimp, klaviyo, hubspot, brevo, meta, google_ads.
        #[arg(long, default_value = "csv")]
        format: String,
        #[arg(long)]
        out: PathBuf,
        /// For csv: profile fields and traits, comma-separated.
        #[arg(long)]
        columns: Option<String>,
        /// Start the file with a UTF-8 byte order mark (for Excel).
        #[arg(long)]
        bom: bool,
        /// Personalised content from the campaign's template: columns (csv), eml (a folder at --out), eml_zip (a zip at --out), merge_tags (mailchimp, klaviyo).
        #[arg(long)]
        content: Option<String>,
        /// Sender of .eml messages, e.g. "Shop <news@shop.example>".
        #[arg(long)]
        from: Option<String>,
        /// For csv: replace profile id, email and phone with the workspace's keyed hash (HMAC-SHA256) and leave out names, street address, postcode and birth date, for sharing with analysts.
        #[arg(long)]
        pseudonymise: bool,
    },
    /// The export log (of one campaign, or all).
    Exports { campaign: Option<String> },
    /// Results against the holdout: import the email tool's report (--import) and/or measure conversions from orders (--from-orders), then the report.
    Results {
        campaign: String,
        #[command(flatten)]
        args: results_cli::ResultsArgs,
    },
    /// Delete a campaign and its export log.
    Delete { campaign: String },
}

#[derive(Subcommand)]
enum TraitsCommand {
    /// Recompute every profile's traits and refit the prediction models (BG/NBD, Gamma-Gamma).
    Compute {
        /// Days ahead that expected purchases and CLV cover.
        #[arg(long, default_value_t = 365)]
        horizon_days: u32,
        /// Yearly discount rate for CLV (0.10 = 10%).
        #[arg(long, default_value_t = 0.10)]
        discount_rate: f64,
    },
    /// Recompute only the profiles touched since the last run, with the fitted models.
    Refresh,
    /// One profile's traits.
    Show { profile: i64 },
    /// RFM segments, churn-risk bands, CLV and the fitted models.
    Summary,
}

#[derive(Subcommand)]
enum ClusterCommand {
    /// Cluster the profiles with traits and store the run.
    Run {
        /// Traits to cluster on, comma-separated (default: orders, revenue,
        /// days_since_last_order, sessions, clv). See `cohort cluster traits`.
        #[arg(long)]
        features: Option<String>,
        /// kmeans, dbscan or gmm.
        #[arg(long, default_value = "kmeans")]
        algorithm: String,
        /// Clusters (k-means: chosen by silhouette when left out; gmm: default 4).
        #[arg(long)]
        k: Option<usize>,
        /// DBSCAN radius, in standard deviations.
        #[arg(long, default_value_t = 0.5)]
        eps: f64,
        /// DBSCAN neighbours (itself included) that make a point core.
        #[arg(long, default_value_t = 10)]
        min_points: usize,
        /// standard or robust (median and IQR).
        #[arg(long, default_value = "standard")]
        scaling: String,
        /// Do not log-transform money and counts.
        #[arg(long)]
        no_log: bool,
        #[arg(long, default_value_t = 42)]
        seed: u64,
    },
    /// The traits clustering can use.
    Traits,
    /// A stored run (default: the latest).
    Show {
        #[arg(long)]
        run: Option<i64>,
    },
    /// Rename a cluster of a run.
    Rename {
        #[arg(long)]
        run: i64,
        #[arg(long)]
        cluster: u32,
        #[arg(long)]
        name: String,
    },
    /// Save a cluster's profiles as a static segment.
    Save {
        #[arg(long)]
        run: i64,
        #[arg(long)]
        cluster: u32,
        /// Segment name (default: the cluster's name).
        #[arg(long)]
        name: Option<String>,
    },
}

// Parsed once per run: the size of the flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum RecommendCommand {
    /// Evaluate every model, tune it, and store each profile's top N with the chosen one.
    Train {
        #[command(flatten)]
        args: recommend_cli::ModelArgs,
    },
    /// A profile's stored recommendations, with why.
    Show { profile: i64 },
    /// The products most similar to a product.
    Similar { sku: String },
    /// The latest training run and its evaluation.
    Status,
}

// Parsed once per run: the size of the flags does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum EvalCommand {
    /// Pairwise precision, recall and F1 of the current profiles against a
    /// `file,source_key,person_id` CSV (the demo writes ground_truth.csv).
    Identity {
        #[arg(long)]
        truth: PathBuf,
    },
    /// Precision, recall, NDCG, MAP@k and coverage of every recommendation
    /// model against popularity, on a temporal split (stores nothing).
    Recommend {
        #[command(flatten)]
        args: recommend_cli::ModelArgs,
        /// Also write the NDCG chart (.svg or .png).
        #[arg(long)]
        chart: Option<PathBuf>,
    },
}

#[derive(clap::Args)]
struct HowToRead {
    /// What the file holds: contacts, orders, order_lines, events, products (default: recognised from the header).
    #[arg(long)]
    kind: Option<String>,
    /// Layout preset, e.g. shopify_customers, hubspot_contacts, ga4_events (default: recognised from the header).
    #[arg(long)]
    preset: Option<String>,
    /// Map a column to a field (`--map "E-mail=email"`), or keep it as an attribute (`--map Notes=attribute`).
    #[arg(long = "map", value_name = "COLUMN=FIELD")]
    map: Vec<String>,
}

impl HowToRead {
    fn options(&self, now: chrono::DateTime<chrono::Utc>) -> Result<ImportOptions> {
        let mut o = ImportOptions::new(now);
        o.kind = match &self.kind {
            Some(k) => Some(Kind::parse(k).with_context(|| {
                format!(
                    "unknown --kind `{k}`: use contacts, orders, order_lines, events or products"
                )
            })?),
            None => None,
        };
        o.preset = self.preset.clone();
        for m in &self.map {
            let (c, f) = m
                .rsplit_once('=')
                .with_context(|| format!("--map `{m}` should look like COLUMN=FIELD"))?;
            o.overrides.push((c.to_string(), f.to_string()));
        }
        Ok(o)
    }
}

fn main() -> ExitCode {
    // No transparent huge pages: a resolution allocates and frees gigabytes
    // in short-lived vectors, and faulting them in as 2 MiB pages (zeroed,
    // compacted for) cost 10 of 65 seconds of a full resolution of 1.1M
    // records on this 2-core machine (54 s without). mimalloc is built
    // without its own huge-page advice (`no_thp`); this also covers kernels
    // set to `always`.
    #[cfg(target_os = "linux")]
    // SAFETY: prctl with PR_SET_THP_DISABLE only sets a flag on this process.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    let cli = Cli::parse();
    // `cohort profiles | head` closes the pipe early: end quietly, as Unix
    // tools do, instead of panicking on the next print. The server keeps
    // Rust's default (a closed connection is an error, not a signal).
    #[cfg(unix)]
    if !matches!(cli.command, Command::Serve { .. }) {
        // SAFETY: restoring the default disposition of SIGPIPE before any
        // thread starts touches no Rust state.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    // A second writer waits for the first; say so rather than seem hung.
    cohort::store::on_busy_wait(|seconds| {
        eprintln!(
            "Waiting: another Cohort window or command is writing to this workspace (up to {seconds} s)…"
        )
    });
    let json = cli.json;
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let code = e
                .downcast_ref::<ingest::ImportError>()
                .map(|e| e.code())
                .or_else(|| {
                    e.downcast_ref::<cohort::campaigns::results::ResultsError>()
                        .map(|e| e.code())
                })
                .or_else(|| {
                    e.downcast_ref::<cohort::templates::TemplateError>()
                        .map(|e| e.code())
                })
                .unwrap_or("error");
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "error": { "code": code, "message": format!("{e:#}") } })
                );
            }
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

/// Cohort's own folder in the user's data directory ($COHORT_DATA_DIR overrides it).
fn data_dir() -> PathBuf {
    match std::env::var_os("COHORT_DATA_DIR") {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()
            .unwrap_or_else(|| PathBuf::from("."))
            .join("Cohort"),
    }
}

fn default_workspace() -> PathBuf {
    data_dir().join("workspace.cohort")
}

impl Command {
    /// Whether the command changes the workspace's data, so the retention
    /// rules (due at most once a day) apply before it, as the app applies
    /// them at start. Not for `retention` itself, dry runs, backups,
    /// encryption (which must see the file as it is), `serve` (the app
    /// applies them) or commands that only read.
    fn applies_retention(&self) -> bool {
        match self {
            Command::Erase { dry_run, .. } => !dry_run,
            Command::Import { .. }
            | Command::Resolve { .. }
            | Command::Review { .. }
            | Command::Unmerge { .. }
            | Command::Survivorship { .. }
            | Command::Traits { .. }
            | Command::Cluster { .. }
            | Command::Recommend { .. }
            | Command::Segment { .. }
            | Command::Campaign { .. }
            | Command::Suppress { .. }
            | Command::Consent { .. } => true,
            _ => false,
        }
    }
}

fn run(cli: Cli) -> Result<()> {
    let ws_path = cli.workspace.clone().unwrap_or_else(default_workspace);
    let now = chrono::Utc::now();
    let json = cli.json;
    if cli.command.applies_retention() {
        privacy_cli::retention_at_start(&ws_path, now);
    }
    match cli.command {
        Command::Init { region, currency } => {
            let ws = Workspace::open(&ws_path)?;
            if let Some(r) = region {
                let r = r.trim().to_ascii_uppercase();
                r.parse::<phonenumber::country::Id>().map_err(|_| {
                    anyhow::anyhow!(
                        "`{r}` is not a region code (use ISO 3166 alpha-2, e.g. US, GB, DE)"
                    )
                })?;
                ws.set_setting(setting::DEFAULT_REGION, &r)?;
            }
            if let Some(c) = currency {
                let code = ingest::standardise::currency_code(&c)
                    .with_context(|| format!("`{c}` is not an ISO 4217 currency"))?;
                ws.set_setting(setting::DEFAULT_CURRENCY, code)?;
            }
            let region = ws.setting(setting::DEFAULT_REGION)?;
            let currency = ws.setting(setting::DEFAULT_CURRENCY)?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "workspace": ws.path(), "schema_version": ws.schema_version()?, "region": region, "currency": currency })
                );
            } else {
                println!(
                    "Workspace ready: {} (schema v{}, region {region}, currency {currency})",
                    ws.path().display(),
                    ws.schema_version()?
                );
            }
        }
        Command::Import {
            file,
            how,
            force,
            source,
        } => {
            let mut ws = Workspace::open(&ws_path)?;
            let mut options = how.options(now)?;
            options.force = force;
            options.source = source;
            let mut bar = Bar::new(json);
            let report = ingest::import(&mut ws, &file, &options, &mut bar)?;
            bar.finish();
            print_report(&report, json)?;
            if let Some(import_id) = report.import_id {
                identity_cli::after_import(&mut ws, json)?;
                insights_cli::after_import(&mut ws, json)?;
                segments_cli::after_import(&mut ws, import_id, json)?;
            }
        }
        Command::Preview { file, how, rows } => {
            let region = match Workspace::open_existing(&ws_path) {
                Ok(ws) => ws.setting(setting::DEFAULT_REGION)?,
                Err(_) => setting::DEFAULT_REGION.1.to_string(),
            };
            let preview = ingest::preview(&file, &how.options(now)?, &region, rows)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&preview)?);
            } else {
                print_plan(&preview.plan);
                let mut t = table(preview.columns.iter().map(|c| {
                    format!(
                        "{}\n{} → {}",
                        c.name,
                        c.inferred,
                        c.field.as_deref().unwrap_or("attribute")
                    )
                }));
                for r in &preview.rows {
                    t.add_row(r.iter().map(|v| truncate(v, 28)));
                }
                println!("{t}");
            }
        }
        Command::Imports => {
            let ws = Workspace::open_existing(&ws_path)?;
            let list = ingest::imports(&ws)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else if list.is_empty() {
                println!("No imports yet. Try `cohort import FILE` or `cohort demo --import`.");
            } else {
                let mut t = table(
                    [
                        "#",
                        "Source",
                        "File",
                        "Kind",
                        "Rows",
                        "New",
                        "Updated",
                        "Unchanged",
                        "Rejected",
                        "Flagged",
                        "Finished",
                    ]
                    .map(String::from),
                );
                for i in list {
                    let sum =
                        |f: fn(&ingest::TableCounts) -> u64| i.tables.iter().map(f).sum::<u64>();
                    t.add_row(vec![
                        i.id.to_string(),
                        i.source,
                        i.file_name,
                        i.kind,
                        i.rows_read.to_string(),
                        sum(|t| t.inserted).to_string(),
                        sum(|t| t.updated).to_string(),
                        sum(|t| t.unchanged).to_string(),
                        i.rows_rejected.to_string(),
                        i.values_flagged.to_string(),
                        i.finished_at,
                    ]);
                }
                println!("{t}");
            }
        }
        Command::Rejects {
            import,
            warnings,
            limit,
        } => {
            let ws = Workspace::open_existing(&ws_path)?;
            if !ingest::import_exists(&ws, import)? {
                anyhow::bail!(
                    "there is no import #{import} in {} (see `cohort imports`)",
                    ws.path().display()
                );
            }
            let (rows, total) = if warnings {
                ingest::value_warnings(&ws, import, limit, 0)?
            } else {
                ingest::rejected_rows(&ws, import, limit, 0)?
            };
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "import": import, "total": total, "rows": rows })
                );
            } else {
                let what = if warnings {
                    "flagged values"
                } else {
                    "rejected rows"
                };
                println!(
                    "Import #{import}: {total} {what}{}",
                    if total > rows.len() as u64 {
                        format!(" (showing {})", rows.len())
                    } else {
                        String::new()
                    }
                );
                if !rows.is_empty() {
                    let mut t = table(["Row", "Column", "Value", "Reason"].map(String::from));
                    for p in rows {
                        t.add_row(vec![
                            p.row.to_string(),
                            p.column.unwrap_or_default(),
                            truncate(&p.value.unwrap_or_default(), 40),
                            p.reason,
                        ]);
                    }
                    println!("{t}");
                }
            }
        }
        Command::Demo {
            customers,
            out,
            import,
            seed,
            noise,
        } => {
            let config = cohort::demo::DemoConfig {
                customers,
                seed,
                noise,
                ..Default::default()
            };
            let mut bar = Bar::new(json);
            let output = cohort::demo::generate(&config, &out, &mut bar)?;
            bar.finish();
            if !json {
                println!(
                    "Wrote demo exports for {} people to {}:",
                    output.people,
                    out.display()
                );
                for f in &output.files {
                    println!(
                        "  {:<28} {:>9} rows  {}",
                        f.path.file_name().unwrap_or_default().to_string_lossy(),
                        f.rows,
                        f.description
                    );
                }
                println!("  ground truth: {}", output.ground_truth.display());
            }
            let mut reports = Vec::new();
            if import {
                let mut ws = Workspace::open(&ws_path)?;
                for f in &output.files {
                    let mut bar = Bar::new(json);
                    let report =
                        ingest::import(&mut ws, &f.path, &ImportOptions::new(now), &mut bar)?;
                    bar.finish();
                    if !json {
                        print_report(&report, false)?;
                    }
                    reports.push(report);
                }
                // The demo is a whole business: resolve it into profiles.
                let mut bar = Bar::new(json);
                let resolved = cohort::identity::resolve(
                    &mut ws,
                    &cohort::identity::ResolveOptions {
                        full: true,
                        settings: Default::default(),
                        now: now_iso(),
                        actor: "demo".into(),
                    },
                    &mut bar,
                )?;
                bar.finish();
                if !json {
                    identity_cli::print_resolve(&resolved, false)?;
                }
                // …and its traits, so Insights has something to show.
                let mut bar = Bar::new(json);
                let traits = cohort::traits::compute(
                    &mut ws,
                    now,
                    cohort::traits::TraitsOptions::default(),
                    &mut bar,
                )?;
                bar.finish();
                if !json {
                    insights_cli::print_traits_report(&traits, false)?;
                }
                // …and recommendations, so templates and exports have them.
                let mut bar = Bar::new(json);
                let run = cohort::recommend::train(
                    &mut ws,
                    &cohort::recommend::Settings::for_demo(output.people),
                    &now_iso(),
                    &mut bar,
                )?;
                bar.finish();
                if !json {
                    println!(
                        "Recommendations: {} per profile for {} profiles ({}) in {:.2} s.",
                        run.settings.n, run.profiles, run.label, run.seconds
                    );
                }
            }
            if json {
                println!(
                    "{}",
                    serde_json::json!({
                        "out": out, "people": output.people,
                        "files": output.files.iter().map(|f| serde_json::json!({"path": f.path, "kind": f.kind, "rows": f.rows})).collect::<Vec<_>>(),
                        "ground_truth": output.ground_truth, "imports": reports,
                    })
                );
            }
        }
        Command::Template { what } => templates_cli::template(&ws_path, what, json)?,
        Command::Block { what } => templates_cli::block(&ws_path, what, json)?,
        Command::Serve { port, ui } => {
            let data = data_dir();
            // Scratch space (uploads, demo exports) lives beside the workspace.
            let scratch = ws_path
                .parent()
                .map(|p| p.join("cohort-files"))
                .unwrap_or_else(|| data.join("files"));
            let app = cohort::api::App::new(
                Some(ws_path.clone()),
                Some(data.join("recent.json")),
                scratch,
            );
            // The workspace must exist and be valid before the UI talks to it;
            // an encrypted one without its passphrase is unlocked in the page.
            match Workspace::open(&ws_path) {
                Ok(_) | Err(cohort::store::StoreError::Locked { .. }) => {}
                Err(e) => return Err(e.into()),
            }
            let ui = ui.or_else(|| {
                Some(PathBuf::from("ui/dist")).filter(|p| p.join("index.html").exists())
            });
            serve::run(app, port, ui)?;
        }
        Command::Resolve {
            full,
            no_backup,
            threshold,
            review_from,
            cap,
            max_people_per_identifier,
        } => identity_cli::resolve(
            &ws_path,
            full,
            no_backup,
            identity_cli::Tuning {
                threshold,
                review_from,
                cap,
                max_people: max_people_per_identifier,
            },
            json,
        )?,
        Command::Profiles { query, limit } => {
            identity_cli::profiles(&ws_path, &query.join(" "), limit, json)?
        }
        Command::Profile { id } => identity_cli::profile(&ws_path, id, json)?,
        Command::Review {
            same,
            different,
            same_from,
            different_below,
            no_backup,
            limit,
        } => {
            if same_from.is_some() || different_below.is_some() {
                let rule = cohort::identity::BulkDecision {
                    same_from,
                    different_below,
                };
                identity_cli::review_bulk(&ws_path, rule, !no_backup, json)?
            } else {
                identity_cli::review(&ws_path, same, different, limit, json)?
            }
        }
        Command::Unmerge { profile, record } => {
            identity_cli::unmerge(&ws_path, profile, record, json)?
        }
        Command::Survivorship {
            default,
            fields,
            priority,
        } => identity_cli::survivorship(&ws_path, default, fields, priority, json)?,
        Command::Refused { limit } => identity_cli::refused(&ws_path, limit, json)?,
        Command::Audit { limit } => identity_cli::audit(&ws_path, limit, json)?,
        Command::Erase {
            who,
            keep_activity,
            dry_run,
            yes,
        } => privacy_cli::erase(&ws_path, &who, keep_activity, dry_run, yes, json, now)?,
        Command::Person {
            what: privacy_cli::PersonCommand::Export { who, out },
        } => privacy_cli::person_export(&ws_path, &who, &out, json, now)?,
        Command::Retention { what } => privacy_cli::retention(&ws_path, what, json, now)?,
        Command::AuditLog { action, limit, csv } => {
            privacy_cli::audit_log(&ws_path, action.as_deref(), limit, csv.as_deref(), json)?
        }
        Command::Traits { what } => match what {
            TraitsCommand::Compute {
                horizon_days,
                discount_rate,
            } => {
                if horizon_days == 0 || !(0.0..1.0).contains(&discount_rate) {
                    anyhow::bail!("--horizon-days must be at least 1 and --discount-rate between 0 and 1 (0.10 = 10% a year)");
                }
                insights_cli::compute(
                    &ws_path,
                    cohort::traits::TraitsOptions {
                        horizon_days,
                        annual_discount_rate: discount_rate,
                    },
                    json,
                )?
            }
            TraitsCommand::Refresh => insights_cli::refresh(&ws_path, json)?,
            TraitsCommand::Show { profile } => insights_cli::show(&ws_path, profile, json)?,
            TraitsCommand::Summary => insights_cli::summary(&ws_path, json)?,
        },
        Command::Cluster { what } => match what {
            ClusterCommand::Run {
                features,
                algorithm,
                k,
                eps,
                min_points,
                scaling,
                no_log,
                seed,
            } => insights_cli::cluster_run(
                &ws_path,
                insights_cli::ClusterArgs {
                    features,
                    algorithm,
                    k,
                    eps,
                    min_points,
                    scaling,
                    no_log,
                    seed,
                },
                json,
            )?,
            ClusterCommand::Traits => insights_cli::cluster_traits(&ws_path, json)?,
            ClusterCommand::Show { run } => insights_cli::cluster_show(&ws_path, run, json)?,
            ClusterCommand::Rename { run, cluster, name } => {
                insights_cli::cluster_rename(&ws_path, run, cluster, &name, json)?
            }
            ClusterCommand::Save { run, cluster, name } => {
                insights_cli::cluster_save(&ws_path, run, cluster, name.as_deref(), json)?
            }
        },
        Command::Segments => insights_cli::segments(&ws_path, json)?,
        Command::Segment { what } => match what {
            SegmentCommand::Count { rule, sample } => {
                segments_cli::count(&ws_path, &rule, sample, json)?
            }
            SegmentCommand::Save {
                name,
                rule,
                is_static,
            } => segments_cli::save(&ws_path, &name, &rule, is_static, json)?,
            SegmentCommand::Edit { segment, rule } => {
                segments_cli::edit(&ws_path, &segment, &rule, json)?
            }
            SegmentCommand::Show { segment } => segments_cli::show(&ws_path, &segment, json)?,
            SegmentCommand::Members { segment, limit } => {
                segments_cli::members(&ws_path, &segment, limit, json)?
            }
            SegmentCommand::Overlap { segments } => {
                segments_cli::overlap(&ws_path, &segments, json)?
            }
            SegmentCommand::Refresh => segments_cli::refresh(&ws_path, json)?,
            SegmentCommand::Delete { segment } => segments_cli::delete(&ws_path, &segment)?,
            SegmentCommand::Fields => segments_cli::fields(json)?,
        },
        Command::Campaign { what } => match what {
            CampaignCommand::Create {
                name,
                segment,
                channel,
                holdout,
                template,
            } => segments_cli::campaign_create(
                &ws_path, &name, &segment, &channel, holdout, template, json,
            )?,
            CampaignCommand::List => segments_cli::campaign_list(&ws_path, json)?,
            CampaignCommand::Audience { campaign } => {
                segments_cli::campaign_audience(&ws_path, &campaign, json)?
            }
            CampaignCommand::Export {
                campaign,
                format,
                out,
                columns,
                bom,
                content,
                from,
                pseudonymise,
            } => segments_cli::campaign_export(
                &ws_path,
                &campaign,
                &format,
                &out,
                columns,
                (bom, pseudonymise),
                (content.as_deref(), from.as_deref()),
                json,
            )?,
            CampaignCommand::Results { campaign, args } => {
                results_cli::results(&ws_path, &campaign, &args, json)?
            }
            CampaignCommand::Exports { campaign } => {
                segments_cli::campaign_exports(&ws_path, campaign.as_deref(), json)?
            }
            CampaignCommand::Delete { campaign } => {
                segments_cli::campaign_delete(&ws_path, &campaign)?
            }
        },
        Command::Encrypt {
            passphrase_stdin,
            remember,
        } => workspace_cli::encrypt(&ws_path, passphrase_stdin, remember, &iso(now), json)?,
        Command::Decrypt => workspace_cli::decrypt(&ws_path, &iso(now), json)?,
        Command::Backup { what } => workspace_cli::backup(&ws_path, what, &iso(now), json)?,
        Command::Suppress { file, reason } => {
            segments_cli::suppress(&ws_path, &file, &reason, json)?
        }
        Command::Consent { what } => consent_cli::run(&ws_path, what, json)?,
        Command::Chart {
            name,
            run,
            out,
            width,
            height,
        } => insights_cli::chart(&ws_path, &name, run, &out, (width, height))?,
        Command::Eval {
            what: EvalCommand::Identity { truth },
        } => identity_cli::eval_identity(&ws_path, &truth, json)?,
        Command::Eval {
            what: EvalCommand::Recommend { args, chart },
        } => recommend_cli::eval(&ws_path, &args, chart.as_deref(), json)?,
        Command::Recommend { what } => match what {
            RecommendCommand::Train { args } => recommend_cli::train(&ws_path, &args, json)?,
            RecommendCommand::Show { profile } => recommend_cli::show(&ws_path, profile, json)?,
            RecommendCommand::Similar { sku } => recommend_cli::similar(&ws_path, &sku, json)?,
            RecommendCommand::Status => recommend_cli::status(&ws_path, json)?,
        },
        Command::Stats => {
            let ws = Workspace::open_existing(&ws_path)?;
            let s = ws.stats()?;
            if json {
                println!("{}", serde_json::to_string_pretty(&s)?);
            } else {
                println!(
                    "Workspace {} (schema v{}, {:.1} MB)",
                    s.path.display(),
                    s.schema_version,
                    s.file_bytes as f64 / 1e6
                );
                let mut t = table(["What", "Count"].map(String::from));
                for (k, v) in [
                    ("Sources", s.sources),
                    ("Imports", s.imports),
                    ("Contacts", s.contacts),
                    ("Orders", s.orders),
                    ("Order lines", s.order_lines),
                    ("Events", s.events),
                    ("Products", s.products),
                    ("Rejected rows", s.rejected_rows),
                    ("Flagged values", s.value_warnings),
                ] {
                    t.add_row(vec![k.to_string(), v.to_string()]);
                }
                println!("{t}");
            }
        }
    }
    Ok(())
}

fn table(header: impl IntoIterator<Item = String>) -> Table {
    let mut t = Table::new();
    t.load_preset(UTF8_FULL_CONDENSED).set_header(header);
    t
}

fn iso(now: chrono::DateTime<chrono::Utc>) -> String {
    now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// Now, as the engine records times (passed into every call, never read inside it).
fn now_iso() -> String {
    iso(chrono::Utc::now())
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_string()
    } else {
        format!("{}…", s.chars().take(n - 1).collect::<String>())
    }
}

fn print_plan(plan: &ingest::Plan) {
    let d = &plan.detected;
    println!(
        "{} ({:.1} kB)",
        plan.file.display(),
        plan.file_size as f64 / 1e3
    );
    println!(
        "  detected: {} encoding, {} delimiter, {} line endings, {} columns",
        d.encoding.label(),
        d.delimiter_label(),
        d.line_ending.label(),
        d.header.len()
    );
    println!(
        "  preset:   {} ({}), records: {}",
        plan.preset_label, plan.preset, plan.kind
    );
    for dc in &plan.dates {
        println!(
            "  dates in `{}`: {}{}",
            dc.column,
            dc.explanation,
            if dc.ambiguous { " [ambiguous]" } else { "" }
        );
    }
    for n in &plan.notes {
        println!("  note: {n}");
    }
}

fn print_report(report: &ImportReport, json: bool) -> Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(report)?);
        return Ok(());
    }
    if let Some(prev) = report.duplicate_of {
        println!(
            "Skipped {}: this exact file was already imported as import #{prev}. Use --force to import it again.",
            report.plan.file.display()
        );
        return Ok(());
    }
    print_plan(&report.plan);
    let rate = report.rows_read as f64 / report.seconds.max(1e-9);
    println!(
        "Import #{} into source `{}`: {} rows read in {:.2} s ({:.0} rows/s)",
        report.import_id.unwrap_or_default(),
        report.source,
        report.rows_read,
        report.seconds,
        rate
    );
    for t in &report.tables {
        println!(
            "  {:<12} {} new, {} updated, {} unchanged",
            t.table, t.inserted, t.updated, t.unchanged
        );
    }
    if report.rows_rejected > 0 {
        println!(
            "  {} rows rejected (see `cohort rejects {}`):",
            report.rows_rejected,
            report.import_id.unwrap_or_default()
        );
        for r in &report.rejected_by_reason {
            println!("    {:>7} × {:<16} e.g. {}", r.count, r.code, r.example);
        }
    }
    if report.suppressed_erased > 0 {
        println!(
            "  {} rows skipped: people erased on request (not stored)",
            report.suppressed_erased
        );
    }
    if report.values_flagged > 0 {
        println!(
            "  {} values kept raw because they could not be standardised (see `cohort rejects {} --warnings`):",
            report.values_flagged,
            report.import_id.unwrap_or_default()
        );
        for r in &report.flagged_by_reason {
            println!("    {:>7} × {:<16} e.g. {}", r.count, r.code, r.example);
        }
    }
    Ok(())
}

/// An indicatif progress bar, hidden for --json and when stderr is not a terminal.
struct Bar {
    bar: Option<indicatif::ProgressBar>,
}

impl Bar {
    fn new(json: bool) -> Bar {
        let visible = !json && std::io::stderr().is_terminal();
        Bar {
            bar: visible.then(indicatif::ProgressBar::hidden),
        }
    }
    fn finish(&mut self) {
        if let Some(b) = self.bar.take() {
            b.finish_and_clear();
        }
    }
}

impl Progress for Bar {
    fn tick(&mut self, tick: &Tick<'_>) {
        let Some(bar) = &mut self.bar else { return };
        if bar.is_hidden() {
            *bar = indicatif::ProgressBar::with_draw_target(
                Some(0),
                indicatif::ProgressDrawTarget::stderr(),
            );
        }
        let (pos, len, style) = match (tick.total_bytes, tick.total) {
            (Some(total), _) if tick.bytes > 0 => (
                tick.bytes,
                total,
                "{msg} [{bar:30}] {bytes}/{total_bytes} {per_sec} ({eta})",
            ),
            (_, Some(total)) => (tick.done, total, "{msg} [{bar:30}] {pos}/{len} ({eta})"),
            _ => (tick.done, 0, "{msg} {pos}"),
        };
        if bar.length() != Some(len) {
            bar.set_length(len);
            bar.set_style(
                indicatif::ProgressStyle::with_template(style)
                    .expect("valid template")
                    .progress_chars("=> "),
            );
        }
        let rate = tick.done as f64 / tick.elapsed.as_secs_f64().max(1e-9);
        bar.set_message(if tick.done > 0 && tick.total_bytes.is_some() {
            format!("{} {} rows ({:.0} rows/s)", tick.stage, tick.done, rate)
        } else {
            tick.stage.to_string()
        });
        bar.set_position(pos);
    }
}
