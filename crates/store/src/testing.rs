//! PostgreSQL for tests (feature `testing`): a private cluster started from
//! the machine's PostgreSQL binaries on a loopback port chosen at run time,
//! and a fresh database per test.
//!
//! Nothing is mocked: it is the real server, as `.ci/run` installs it from
//! Debian's packages. When no PostgreSQL binaries are found the tests that
//! need them fail with a message that says how to install them; they are
//! never skipped.
//!
//! - [`database`]: a new, empty database on the test binary's shared
//!   cluster, dropped when the returned [`TestDatabase`] is.
//! - [`Cluster::start`]: a cluster of the test's own, for tests that stop or
//!   restart the server.
//!
//! A cluster lives in a temporary directory and is stopped, and the
//! directory removed, by a watchdog process when the test process exits
//! (statics are never dropped, and a killed test runs no destructor).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// A PostgreSQL server of the tests' own, on 127.0.0.1.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    /// Run the server's programs as this user (PostgreSQL refuses root).
    run_as: Option<String>,
}

/// A database on a [`Cluster`], dropped (with its connections) when this is.
#[derive(Debug)]
pub struct TestDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl TestDatabase {
    /// Its URL, for [`PgStore::open`](crate::PgStore::open) or `[store] url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let name = self.name.clone();
        let admin = self.admin_url.clone();
        // The client blocks on a runtime of its own: not on a tokio thread.
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("drop database if exists {name} with (force)"));
            }
        })
        .join();
    }
}

/// A fresh database on this test process's shared cluster.
///
/// # Panics
///
/// When no PostgreSQL server binaries are installed or the cluster does not
/// start: the message says why.
pub fn database() -> TestDatabase {
    static SHARED: OnceLock<Cluster> = OnceLock::new();
    SHARED
        .get_or_init(|| Cluster::start().unwrap_or_else(|e| panic!("{e}")))
        .database()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Whether this test run asks for PostgreSQL (`TANDEM_TEST_STORE=postgres`,
/// the matrix `scripts/test.sh` runs) rather than SQLite.
pub fn postgres_asked() -> bool {
    std::env::var("TANDEM_TEST_STORE").is_ok_and(|v| v == "postgres")
}

/// A fresh, empty store of the backend the run asks for: SQLite in memory,
/// or a new database on this process's shared PostgreSQL cluster (kept until
/// the process ends).
pub fn store() -> std::sync::Arc<dyn crate::Store> {
    if postgres_asked() {
        let db: &'static TestDatabase = Box::leak(Box::new(database()));
        std::sync::Arc::new(
            crate::PgStore::open(db.url(), None)
                .unwrap_or_else(|e| panic!("PostgreSQL store: {e}")),
        )
    } else {
        std::sync::Arc::new(
            crate::SqliteStore::open_in_memory().unwrap_or_else(|e| panic!("SQLite store: {e}")),
        )
    }
}

/// For tests of processes that open the store themselves: the `[store]`
/// lines of a configuration, a new PostgreSQL database when the run asks for
/// it (kept until the process ends), else `None` (keep the SQLite file).
pub fn store_section() -> Option<String> {
    postgres_asked().then(|| {
        let db: &'static TestDatabase = Box::leak(Box::new(database()));
        format!("[store]\nurl = \"{}\"", db.url())
    })
}

impl Cluster {
    /// Initialises and starts a new cluster in a temporary directory, on a
    /// free loopback port, trusting local connections (it is the tests' own).
    pub fn start() -> Result<Self, String> {
        let bin = server_bin()?;
        let run_as = is_root().then(|| "postgres".to_string());
        let dir = std::env::temp_dir().join(format!(
            "tandem-pg-{}-{:08x}",
            std::process::id(),
            rand_u32()
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
        if let Some(user) = &run_as {
            let status = Command::new("chown")
                .arg(user)
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !status.success() {
                return Err(format!("chown {user} {} failed", dir.display()));
            }
        }
        let port = free_port()?;
        let cluster = Cluster {
            dir,
            bin,
            port,
            run_as,
        };
        let out = cluster
            .command("initdb")
            .args(["-D"])
            .arg(cluster.data())
            .args(["-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
            .output()
            .map_err(|e| format!("running initdb: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "initdb failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        std::fs::write(
            cluster.data().join("postgresql.auto.conf"),
            format!(
                "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
                 fsync = off\nfull_page_writes = off\nmax_connections = 200\n",
                cluster.dir.display()
            ),
        )
        .map_err(|e| format!("configuring the cluster: {e}"))?;
        cluster.watch_over();
        cluster.start_server()?;
        Ok(cluster)
    }

    /// The server's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A fresh database on this cluster.
    pub fn database(&self) -> Result<TestDatabase, String> {
        let admin_url = self.url("postgres");
        let name = format!(
            "tandem_test_{:08x}{:04x}",
            rand_u32(),
            std::process::id() & 0xffff
        );
        let create = format!("create database {name}");
        let admin = admin_url.clone();
        std::thread::spawn(move || -> Result<(), String> {
            let mut c = postgres::Client::connect(&admin, postgres::NoTls)
                .map_err(|e| format!("connecting to the test cluster: {e}"))?;
            c.batch_execute(&create)
                .map_err(|e| format!("creating a test database: {e}"))
        })
        .join()
        .map_err(|_| "creating a test database panicked".to_string())??;
        Ok(TestDatabase {
            url: self.url(&name),
            admin_url,
            name,
        })
    }

    /// The URL of database `db` on this cluster.
    pub fn url(&self, db: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{db}", self.port)
    }

    /// Stops the server at once (`immediate`: as a crash or a power cut
    /// would, without a checkpoint); connections are dropped.
    pub fn stop(&self) -> Result<(), String> {
        self.pg_ctl(&["stop", "-m", "immediate", "-w"])
    }

    /// Starts the server again after [`Cluster::stop`], and waits until it
    /// accepts connections.
    pub fn start_server(&self) -> Result<(), String> {
        let log = self.dir.join("server.log");
        self.pg_ctl(&["start", "-w", "-t", "30", "-l", &log.display().to_string()])?;
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            if Instant::now() > deadline {
                return Err(format!("PostgreSQL did not listen on {}", self.port));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(())
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    fn pg_ctl(&self, args: &[&str]) -> Result<(), String> {
        let out = self
            .command("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("running pg_ctl: {e}"))?;
        if out.status.success() {
            Ok(())
        } else {
            let log = std::fs::read_to_string(self.dir.join("server.log")).unwrap_or_default();
            Err(format!(
                "pg_ctl {args:?} failed: {}{}\n{log}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ))
        }
    }

    /// `program` from the server's binaries, run as the cluster's user.
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        match &self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(path);
                c
            }
            None => Command::new(path),
        }
    }

    /// Starts a watchdog that stops the server and removes its directory
    /// once this process has gone, however it ended.
    fn watch_over(&self) {
        let script = format!(
            "while kill -0 {pid} 2>/dev/null; do sleep 1; done; \
             {stop} -D '{data}' stop -m immediate >/dev/null 2>&1; rm -rf '{dir}'",
            pid = std::process::id(),
            stop = match &self.run_as {
                Some(user) => format!(
                    "runuser -u {user} -- '{}'",
                    self.bin.join("pg_ctl").display()
                ),
                None => format!("'{}'", self.bin.join("pg_ctl").display()),
            },
            data = self.data().display(),
            dir = self.dir.display(),
        );
        let _ = Command::new("sh")
            .args(["-c", &script])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
    }
}

/// The directory of the newest installed PostgreSQL server binaries:
/// Debian's `/usr/lib/postgresql/<major>/bin`, or wherever `pg_ctl` is on
/// the PATH.
fn server_bin() -> Result<PathBuf, String> {
    let debian = Path::new("/usr/lib/postgresql");
    if let Ok(entries) = std::fs::read_dir(debian) {
        let mut majors: Vec<(u32, PathBuf)> = entries
            .filter_map(Result::ok)
            .filter_map(|e| {
                let major = e.file_name().to_str()?.parse().ok()?;
                let bin = e.path().join("bin");
                bin.join("initdb").exists().then_some((major, bin))
            })
            .collect();
        majors.sort();
        if let Some((_, bin)) = majors.pop() {
            return Ok(bin);
        }
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| dir.join("pg_ctl").exists() && dir.join("initdb").exists())
        .ok_or_else(|| {
            "no PostgreSQL server binaries (initdb, pg_ctl) found: install Debian's \
             `postgresql` package (scripts/test.sh does), or put them on the PATH"
                .to_string()
        })
}

fn free_port() -> Result<u16, String> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("finding a free port: {e}"))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default(),
    );
    h.finish() as u32
}
