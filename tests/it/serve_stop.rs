//! `serve` over many shops stops when told: idle between runs, out within seconds of SIGTERM,
//! every time. sqlx-core 0.9.0's pool maintenance task could loop without yielding
//! (launchbadge/sqlx#3645); a `serve` caught in it burned a core and never exited.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{TestStore, fixture};

const SHOPS: usize = 24;

/// `SHOPS` shop configs, each with a store of its own and a report named after it.
fn many_shops(dir: &Path) -> Vec<String> {
    let small = std::fs::read_to_string(fixture("small/config.toml")).unwrap();
    (0..SHOPS)
        .map(|i| {
            let text = small
                .replace("sqlite://small.sqlite", &format!("sqlite://shop{i}.sqlite"))
                .replace("name = \"morning\"", &format!("name = \"morning{i}\""))
                .replace("name = \"weekly\"", &format!("name = \"weekly{i}\""));
            let path = dir.join(format!("shop{i}.toml"));
            std::fs::write(&path, text).unwrap();
            path.to_str().unwrap().to_string()
        })
        .collect()
}

fn serve(configs: &[String]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dawnpost"));
    for c in configs {
        cmd.args(["--config", c]);
    }
    cmd.arg("serve")
        .env("DAWNPOST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

/// User and system CPU time a live process has used, from /proc.
fn cpu(pid: u32) -> Duration {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // Fields after the command name (which may hold spaces) close with ')'.
    let rest = &stat[stat.rfind(')').unwrap() + 2..];
    let f: Vec<u64> = rest
        .split(' ')
        .skip(11)
        .take(2)
        .map(|x| x.parse().unwrap())
        .collect();
    // Clock ticks, 100 a second on Linux.
    Duration::from_millis((f[0] + f[1]) * 10)
}

fn wait_within(child: &mut Child, limit: Duration) -> Option<std::process::ExitStatus> {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn serve_over_many_shops_rests_and_stops_on_sigterm_every_time() {
    if !Path::new("/proc/self/stat").exists() {
        eprintln!("notice: no /proc; skipping");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let configs = many_shops(dir.path());
    for round in 0..5 {
        let mut child = serve(&configs);
        // Started, every store open and every report looked at once.
        std::thread::sleep(Duration::from_millis(2_500));
        assert!(
            child.try_wait().unwrap().is_none(),
            "round {round}: serve exited early"
        );
        let before = cpu(child.id());
        std::thread::sleep(Duration::from_secs(2));
        let idle = cpu(child.id()) - before;
        assert!(
            idle < Duration::from_millis(300),
            "round {round}: serve used {idle:?} of CPU in 2 s of rest"
        );
        let sent = Command::new("sh")
            .args(["-c", &format!("kill -TERM {}", child.id())])
            .status()
            .unwrap();
        assert!(sent.success());
        let Some(status) = wait_within(&mut child, Duration::from_secs(10)) else {
            let _ = child.kill();
            panic!("round {round}: serve did not exit within 10 s of SIGTERM");
        };
        assert!(
            status.success(),
            "round {round}: serve exited with {status}"
        );
    }
}

/// The pools have no idle timeout, no maximum lifetime and no minimum of connections: the
/// settings for which sqlx starts no maintenance task at all.
#[tokio::test]
async fn the_store_pools_start_no_maintenance_task() {
    let Some(t) = TestStore::small(crate::support::Backend::Sqlite).await else {
        return;
    };
    let o = t.store.pool().options();
    assert_eq!(o.get_idle_timeout(), None);
    assert_eq!(o.get_max_lifetime(), None);
    assert_eq!(o.get_min_connections(), 0);
}
