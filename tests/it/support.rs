//! Test support: throwaway stores on SQLite and on a real PostgreSQL server.
//!
//! PostgreSQL comes from `DAWNPOST_TEST_POSTGRES_URL`, or from a cluster this test binary
//! starts with the machine's initdb/pg_ctl on 127.0.0.1 (stopped by a watchdog when the
//! binary exits). Where PostgreSQL is not installed the PostgreSQL half of a test prints a
//! notice and returns, unless `DAWNPOST_REQUIRE_POSTGRES=1`, which turns that into a failure.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::NaiveDate;
use dawnpost::config::{Config, ConfigSource};
use dawnpost::store::Store;
use sqlx::Connection;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Backend {
    Sqlite,
    Postgres,
}

/// Runs an `async fn(Backend)` test once per backend, as `<name>::sqlite` and `<name>::postgres`.
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::support::Backend::Sqlite).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name($crate::support::Backend::Postgres).await
            }
        }
    )*};
}
pub(crate) use both_backends;

pub(crate) fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub(crate) fn fixture(path: &str) -> PathBuf {
    repo().join("fixtures").join(path)
}

/// A store for one test, with its config and a scratch directory.
pub(crate) struct TestStore {
    pub store: Store,
    pub config: Config,
    pub dir: tempfile::TempDir,
    /// Dropped after the store: its database goes with the test, so a run's disk use does
    /// not grow with every PostgreSQL test it has run.
    pub _database: Option<PgDatabase>,
}

impl TestStore {
    /// A fresh, migrated store on `backend` configured by `config_text` (its `[store] url`
    /// is replaced). None when PostgreSQL is wanted but not available (and not required).
    pub(crate) async fn new(backend: Backend, config_text: &str) -> Option<TestStore> {
        let dir = tempfile::tempdir().expect("tempdir");
        let database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(fresh_database().await?),
        };
        let url = match &database {
            None => "sqlite://store.sqlite".to_string(),
            Some(d) => d.url.clone(),
        };
        let text = replace_store_url(config_text, &url);
        let config = Config::parse(&ConfigSource {
            origin: "test config".into(),
            text: &text,
            base_dir: dir.path().to_path_buf(),
        })
        .expect("test config is valid");
        let store = Store::open(&config.store).await.expect("store opens");
        Some(TestStore {
            store,
            config,
            dir,
            _database: database,
        })
    }

    /// The small hand-made shop of fixtures/small, fully imported.
    pub(crate) async fn small(backend: Backend) -> Option<TestStore> {
        let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
        Some(
            TestStore::new(backend, &text)
                .await?
                .with_small_data()
                .await,
        )
    }

    /// Imports every CSV of fixtures/small.
    pub(crate) async fn with_small_data(self) -> TestStore {
        for table in dawnpost::schema::importable().map(|t| t.name) {
            dawnpost::ingest::import_csv(
                &self.store,
                table,
                &fixture(&format!("small/{table}.csv")),
                self.config.shop.timezone,
            )
            .await
            .unwrap_or_else(|e| panic!("importing {table}: {e:#}"));
        }
        self
    }

    /// One number from independent SQL (run on the writable pool, not the metric path).
    pub(crate) async fn scalar(&self, sql: &str) -> Option<f64> {
        let v: Option<f64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT CAST(({sql}) AS DOUBLE PRECISION)"
        )))
        .fetch_one(self.store.pool())
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
        v
    }

    /// Orders per day counted from the raw orders by separate SQL (not the rollup the
    /// forecast reads).
    pub(crate) async fn raw_orders(&self) -> BTreeMap<NaiveDate, f64> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT day, COUNT(*) FROM orders WHERE status <> 'cancelled' GROUP BY day ORDER BY day",
        )
        .fetch_all(self.store.pool())
        .await
        .unwrap();
        rows.into_iter()
            .map(|(day, n)| (day.parse().unwrap(), n as f64))
            .collect()
    }

    /// A fingerprint of every data table: row counts and a digest of the rows, to show
    /// that something changed nothing.
    pub(crate) async fn fingerprint(&self) -> Vec<(String, i64, String)> {
        let mut out = Vec::new();
        for table in dawnpost::schema::data_tables() {
            let n = self.store.count(table).await.unwrap();
            let rows: Vec<sqlx::any::AnyRow> =
                sqlx::query(sqlx::AssertSqlSafe(format!("SELECT * FROM {table}")))
                    .fetch_all(self.store.pool())
                    .await
                    .unwrap();
            let mut lines: Vec<String> = rows.iter().map(row_text).collect();
            lines.sort();
            out.push((table.to_string(), n, lines.join("\n")));
        }
        out
    }
}

/// A store of `config_text` filled with the demo shop (seed 7, full scale) over `days` to
/// `end`; None where the backend's server is not installed.
pub(crate) async fn demo_store(
    b: Backend,
    config_text: &str,
    end: NaiveDate,
    days: u32,
) -> Option<TestStore> {
    let t = TestStore::new(b, config_text).await?;
    let o = dawnpost::demo::DemoOptions {
        end,
        days,
        seed: 7,
        scale: 1.0,
        shop: dawnpost::demo::DemoShop::Northwind,
    };
    dawnpost::demo::generate(&t.store, &o, t.config.shop.timezone, false)
        .await
        .unwrap();
    Some(t)
}

pub(crate) fn row_text(row: &sqlx::any::AnyRow) -> String {
    use sqlx::{Column, Row};
    row.columns()
        .iter()
        .map(|c| {
            let i = c.ordinal();
            if let Ok(v) = row.try_get::<Option<String>, _>(i) {
                format!("{v:?}")
            } else if let Ok(v) = row.try_get::<Option<i64>, _>(i) {
                format!("{v:?}")
            } else {
                format!("{:?}", row.try_get::<Option<f64>, _>(i).ok().flatten())
            }
        })
        .collect::<Vec<_>>()
        .join("|")
}

pub(crate) fn replace_store_url(config: &str, url: &str) -> String {
    let mut out = String::new();
    let mut in_store = false;
    for line in config.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('[') {
            in_store = trimmed == "[store]";
        }
        if in_store && trimmed.starts_with("url") {
            out.push_str(&format!("url = \"{url}\"\n"));
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

// ---- PostgreSQL ---------------------------------------------------------------------------

struct Cluster {
    /// URL of the server, without a database path.
    base: String,
    /// Outlives the test binary on purpose: it stops the cluster after we exit.
    _watchdog: Option<std::process::Child>,
}

static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
static DATABASES: AtomicUsize = AtomicUsize::new(0);

pub(crate) fn require_postgres() -> bool {
    std::env::var("DAWNPOST_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A new, empty database on the test server, as a URL, kept until the cluster stops;
/// None (after a notice) when no server can be had and none is required.
pub(crate) async fn postgres_database() -> Option<String> {
    fresh_database().await.map(PgDatabase::keep)
}

/// A database on the test server that is dropped with this value.
pub(crate) struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    /// Its URL, leaving the database in place.
    fn keep(self) -> String {
        let url = self.url.clone();
        std::mem::forget(self);
        url
    }
}

impl Drop for PgDatabase {
    /// Drops the database on a thread of its own, so it works inside and outside a runtime;
    /// FORCE ends the connections a store's pool may still hold. Failures only leave it for
    /// the cluster's removal at exit.
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let sql = format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)");
                    let _ = sqlx::query(sqlx::AssertSqlSafe(sql))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropped.join();
    }
}

/// A new, empty database on the test server; None (after a notice) when no server can be
/// had and none is required.
async fn fresh_database() -> Option<PgDatabase> {
    let cluster = CLUSTER.get_or_init(|| match std::env::var("DAWNPOST_TEST_POSTGRES_URL") {
        Ok(url) => Some(Cluster {
            base: url.trim_end_matches('/').to_string(),
            _watchdog: None,
        }),
        Err(_) => start_cluster(),
    });
    let Some(cluster) = cluster else {
        if require_postgres() {
            panic!(
                "PostgreSQL is required (DAWNPOST_REQUIRE_POSTGRES=1) but initdb/pg_ctl were not found"
            );
        }
        eprintln!("notice: PostgreSQL is not installed; skipping the PostgreSQL half of this test");
        return None;
    };
    let name = format!(
        "dawnpost_t{}_{}",
        std::process::id(),
        DATABASES.fetch_add(1, Ordering::SeqCst)
    );
    let admin = format!("{}/postgres", cluster.base);
    let mut conn = sqlx::PgConnection::connect(&admin)
        .await
        .unwrap_or_else(|e| panic!("cannot reach the test PostgreSQL at {admin}: {e}"));
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    Some(PgDatabase {
        url: format!("{}/{name}", cluster.base),
        admin,
        name,
    })
}

pub(crate) fn find_pg_bin(tool: &str) -> Option<PathBuf> {
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output()
        && out.status.success()
    {
        let p = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join(tool);
        if p.exists() {
            return Some(p);
        }
    }
    let mut versions: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.path().join("bin").join(tool))
                .collect()
        })
        .unwrap_or_default();
    versions.sort();
    versions.into_iter().rev().find(|p| p.exists()).or_else(|| {
        std::env::var_os("PATH").and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|d| d.join(tool))
                .find(|p| p.exists())
        })
    })
}

pub(crate) fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Runs a PostgreSQL tool, as the postgres user when we are root (initdb refuses root).
pub(crate) fn pg_command(tool: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    }
}

fn start_cluster() -> Option<Cluster> {
    let initdb = find_pg_bin("initdb")?;
    let pg_ctl = find_pg_bin("pg_ctl")?;
    let root = is_root();
    let dir = std::env::temp_dir().join(format!("dawnpost-pg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("pg temp dir");
    if root {
        let ok = Command::new("chown")
            .args(["postgres:postgres"])
            .arg(&dir)
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "cannot chown {} to postgres", dir.display());
    }
    let data = dir.join("data");
    let out = pg_command(&initdb, root)
        .arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-A",
            "trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
        ])
        .output()
        .expect("run initdb");
    assert!(
        out.status.success(),
        "initdb failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
        l.local_addr().unwrap().port()
    };
    let opts = format!(
        "-p {port} -k {} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200",
        dir.display()
    );
    let out = pg_command(&pg_ctl, root)
        .arg("-D")
        .arg(&data)
        .arg("-l")
        .arg(dir.join("log"))
        .args(["-w", "-o", &opts, "start"])
        .output()
        .expect("run pg_ctl");
    assert!(
        out.status.success(),
        "pg_ctl start failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        std::fs::read_to_string(dir.join("log")).unwrap_or_default()
    );
    // The watchdog stops the cluster and removes it once this test binary has exited.
    let stop = if root {
        format!(
            "runuser -u postgres -- {} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    } else {
        format!(
            "{} -D {} -m immediate stop",
            pg_ctl.display(),
            data.display()
        )
    };
    let script = format!(
        "while kill -0 {pid} 2>/dev/null; do sleep 0.5; done; {stop} >/dev/null 2>&1; rm -rf {dir}",
        pid = std::process::id(),
        dir = dir.display()
    );
    let watchdog = Command::new("sh")
        .args(["-c", &script])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start the cluster watchdog");
    Some(Cluster {
        base: format!("postgres://postgres@127.0.0.1:{port}"),
        _watchdog: Some(watchdog),
    })
}

/// Runs the built `dawnpost` binary with a scratch data directory; returns (status, stdout, stderr).
pub(crate) fn dawnpost(
    args: &[&str],
    envs: &[(&str, &str)],
) -> (std::process::ExitStatus, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dawnpost"));
    cmd.args(args)
        .env_remove("DAWNPOST_CONFIG")
        .env("DAWNPOST_LOG", "warn")
        .env("NO_COLOR", "1");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run dawnpost");
    (
        out.status,
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Imports the small shop's products, orders and order lines through the binary, into the
/// store of the config file `config`.
pub(crate) fn import_small_cli(config: &str) {
    for table in ["products", "orders", "order_lines"] {
        let f = fixture(&format!("small/{table}.csv"));
        let (status, _, err) = dawnpost(
            &["--config", config, "import", table, f.to_str().unwrap()],
            &[],
        );
        assert!(status.success(), "{table}: {err}");
    }
}

/// Counts a report's ledger rows with one status in a SQLite store file, read-only and from
/// outside the process under test; -1 while the store cannot be read yet.
pub(crate) struct LedgerProbe {
    rt: tokio::runtime::Runtime,
    url: String,
}

impl LedgerProbe {
    pub(crate) fn new(db: &Path) -> LedgerProbe {
        LedgerProbe {
            rt: tokio::runtime::Runtime::new().unwrap(),
            url: format!("sqlite://{}?mode=ro", db.display()),
        }
    }

    pub(crate) fn count(&self, report: &str, status: &str) -> i64 {
        self.rt.block_on(async {
            let Ok(mut conn) = <sqlx::SqliteConnection as Connection>::connect(&self.url).await
            else {
                return -1;
            };
            sqlx::query_scalar("SELECT COUNT(*) FROM deliveries WHERE report = $1 AND status = $2")
                .bind(report)
                .bind(status)
                .fetch_one(&mut conn)
                .await
                .unwrap_or(-1)
        })
    }
}

/// One ledger row as the tests read it: (recipient, status, attempts, last error).
pub(crate) type LedgerRow = (String, String, i64, Option<String>);

impl LedgerProbe {
    /// Every ledger row of a report, by recipient.
    pub(crate) fn rows(&self, report: &str) -> Vec<LedgerRow> {
        self.rt.block_on(async {
            let mut conn = <sqlx::SqliteConnection as Connection>::connect(&self.url)
                .await
                .expect("open the ledger");
            sqlx::query_as(
                "SELECT recipient, status, attempts, last_error FROM deliveries \
                 WHERE report = $1 ORDER BY recipient",
            )
            .bind(report)
            .fetch_all(&mut conn)
            .await
            .expect("read the ledger")
        })
    }
}

/// 06:00 in the shop's zone the morning after 1 Mar 2024: the small shop's fixed "now".
pub(crate) fn now(t: &TestStore) -> chrono::DateTime<chrono_tz::Tz> {
    use chrono::TimeZone;
    t.config
        .shop
        .timezone
        .with_ymd_and_hms(2024, 3, 2, 6, 0, 0)
        .unwrap()
}

/// The small shop's email for 1 Mar 2024, composed from its store.
pub(crate) async fn composed(t: &TestStore) -> dawnpost::email::compose::Composed {
    composed_on(t, "2024-03-01".parse().unwrap()).await
}

/// The email for `d` with the built-in templates, composed at 06:00 the morning after in
/// the shop's zone, as `serve` would.
pub(crate) async fn composed_on(t: &TestStore, d: NaiveDate) -> dawnpost::email::compose::Composed {
    use chrono::TimeZone;
    let templates = dawnpost::email::render::Templates::load(None).unwrap();
    let now = t
        .config
        .shop
        .timezone
        .from_local_datetime(&(d + chrono::Days::new(1)).and_hms_opt(6, 0, 0).unwrap())
        .unwrap();
    dawnpost::email::compose::compose(&t.store, &t.config, &templates, d, now)
        .await
        .unwrap()
}

/// A PostgreSQL test's database goes with its store, pool still open or not: a run's disk
/// use must not grow with every test it has run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_test_store_drops_its_postgresql_database() {
    let text = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    let Some(t) = TestStore::new(Backend::Postgres, &text).await else {
        return;
    };
    let Some(db) = &t._database else {
        panic!("a PostgreSQL store has its database")
    };
    let (admin, name) = (db.admin.clone(), db.name.clone());
    let exists = |admin: String, name: String| async move {
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM pg_database WHERE datname = $1")
            .bind(name)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        n == 1
    };
    assert!(
        exists(admin.clone(), name.clone()).await,
        "{name} is there while in use"
    );
    drop(t);
    assert!(!exists(admin, name.clone()).await, "{name} is left behind");
}
