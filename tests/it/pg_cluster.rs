//! A PostgreSQL cluster of one test's own, which the test may stop and start again while
//! dawnpost works (the shared cluster of `support` must stay up for every other test).

use std::path::PathBuf;

use crate::support::{find_pg_bin, is_root, pg_command, require_postgres};

pub(crate) struct PrivateCluster {
    dir: PathBuf,
    pg_ctl: PathBuf,
    root: bool,
    port: u16,
}

impl PrivateCluster {
    /// A new cluster on a free port of 127.0.0.1, running; None (after a notice) where
    /// PostgreSQL is not installed and not required.
    pub(crate) fn start() -> Option<PrivateCluster> {
        let (Some(initdb), Some(pg_ctl)) = (find_pg_bin("initdb"), find_pg_bin("pg_ctl")) else {
            assert!(
                !require_postgres(),
                "PostgreSQL is required (DAWNPOST_REQUIRE_POSTGRES=1) but initdb/pg_ctl were not found"
            );
            eprintln!("notice: PostgreSQL is not installed; skipping this test");
            return None;
        };
        let root = is_root();
        let dir = tempfile::Builder::new()
            .prefix("dawnpost-pg-own-")
            .tempdir()
            .unwrap()
            .keep();
        if root {
            let ok = std::process::Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "cannot chown {} to postgres", dir.display());
        }
        let out = pg_command(&initdb, root)
            .arg("-D")
            .arg(dir.join("data"))
            .args(["-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"])
            .arg("--locale=C.UTF-8")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "initdb: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = crate::smtp::free_port();
        let cluster = PrivateCluster {
            dir,
            pg_ctl,
            root,
            port,
        };
        cluster.up();
        Some(cluster)
    }

    /// A URL for a new database on this cluster.
    pub(crate) fn database(&self, name: &str) -> String {
        let base = format!("postgres://postgres@127.0.0.1:{}", self.port);
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let mut conn =
                <sqlx::PgConnection as sqlx::Connection>::connect(&format!("{base}/postgres"))
                    .await
                    .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                .execute(&mut conn)
                .await
                .unwrap();
        });
        format!("{base}/{name}")
    }

    /// Starts the server again (or for the first time) and waits until it takes connections.
    pub(crate) fn up(&self) {
        let opts = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off",
            self.port,
            self.dir.display()
        );
        self.pg_ctl(&["-w", "-o", &opts, "start"]);
    }

    /// Stops the server as an operator's restart would: `pg_ctl stop -m fast` ends every
    /// session at once.
    pub(crate) fn down(&self) {
        self.pg_ctl(&["-m", "fast", "-w", "stop"]);
    }

    fn pg_ctl(&self, args: &[&str]) {
        let out = pg_command(&self.pg_ctl, self.root)
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "pg_ctl {args:?}: {}{}",
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        let _ = pg_command(&self.pg_ctl, self.root)
            .arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "immediate", "stop"])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
