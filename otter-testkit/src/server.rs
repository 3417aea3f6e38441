//! One throwaway MariaDB server: install a datadir, start `mariadbd` on a free loopback port, wait
//! until it accepts connections, and on drop stop it and delete every file it wrote.
//!
//! Invariants:
//! - everything the server writes (datadir, binlogs, socket, logs) lives in one temporary directory
//!   that is removed when the [`MariaDb`] is dropped;
//! - the server process never outlives the test process (see `spawn.rs`), and a directory left by a
//!   test process that died anyway is reaped by the next test process that starts a server;
//! - nothing outside that directory is touched: no `my.cnf` is read (`--no-defaults`).

use std::io::{self, Read};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::config::ServerConfig;
use crate::spawn::{find_binary, process_alive, running_as_root, signal, spawn_tied_to_process};

const DIR_PREFIX: &str = "otter-mdb-";
const OWNER_FILE: &str = "owner.pid";
const START_TIMEOUT: Duration = Duration::from_secs(60);
const STOP_TIMEOUT: Duration = Duration::from_secs(30);


/// A running MariaDB server owned by a test. Dropping it stops the server and removes its files.
#[derive(Debug)]
pub struct MariaDb {
    config: ServerConfig,
    dir: Option<tempfile::TempDir>,
    port: u16,
    child: Option<Child>,
    started_in: Duration,
}

impl MariaDb {
    /// Installs a fresh datadir and starts a server with `config`, waiting until it accepts
    /// connections. On failure the error carries the server's error log.
    pub fn start(config: ServerConfig) -> io::Result<MariaDb> {
        reap_stale_dirs();
        let t0 = Instant::now();
        let base = std::env::var_os("OTTER_TESTKIT_TMP")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/tmp"));
        let dir = tempfile::Builder::new().prefix(DIR_PREFIX).tempdir_in(&base)?;
        std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
        for sub in ["binlog", "tmp"] {
            std::fs::create_dir(dir.path().join(sub))?;
        }
        install_datadir(dir.path())?;
        let mut server = MariaDb { config, dir: Some(dir), port: 0, child: None, started_in: Duration::ZERO };
        server.launch(true)?;
        server.started_in = t0.elapsed();
        Ok(server)
    }

    /// Starts the server again on the same datadir and port after [`MariaDb::stop`] or
    /// [`MariaDb::kill`] (a crash restart when killed).
    pub fn restart(&mut self) -> io::Result<()> {
        if self.child.is_some() {
            self.stop()?;
        }
        self.launch(false)
    }

    /// Stops the server cleanly (SIGTERM, then SIGKILL after a timeout). Files are kept until drop.
    pub fn stop(&mut self) -> io::Result<()> {
        if let Some(mut child) = self.child.take() {
            signal(child.id(), libc::SIGTERM);
            let deadline = Instant::now() + STOP_TIMEOUT;
            loop {
                if child.try_wait()?.is_some() {
                    break;
                }
                if Instant::now() > deadline {
                    let _ = child.kill();
                    child.wait()?;
                    break;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        }
        Ok(())
    }

    /// Kills the server with SIGKILL (a crash). Files are kept until drop.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A connection URL for the passwordless TCP root account: `mysql://root@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("mysql://root@127.0.0.1:{}", self.port)
    }

    /// A connection URL for another account, e.g. one a test created.
    pub fn url_for(&self, user: &str, password: &str) -> String {
        format!("mysql://{user}:{password}@127.0.0.1:{}", self.port)
    }

    /// The loopback TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The options the server was started with.
    pub fn config(&self) -> &ServerConfig {
        &self.config
    }

    /// The server's temporary directory (datadir, binlogs, logs).
    pub fn dir(&self) -> &Path {
        self.dir.as_ref().map(|d| d.path()).unwrap_or_else(|| Path::new("/nonexistent"))
    }

    /// The unix socket path.
    pub fn socket(&self) -> PathBuf {
        self.dir().join("mysqld.sock")
    }

    /// The directory that holds the binary logs and their index.
    pub fn binlog_dir(&self) -> PathBuf {
        self.dir().join("binlog")
    }

    /// The binlog files in the order the server wrote them (from the index file).
    pub fn binlog_files(&self) -> io::Result<Vec<PathBuf>> {
        let index = std::fs::read_to_string(self.binlog_dir().join("mysql-bin.index"))?;
        Ok(index
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                let p = Path::new(l.trim());
                if p.is_absolute() {
                    p.to_path_buf()
                } else {
                    self.binlog_dir().join(p.file_name().unwrap_or(p.as_os_str()))
                }
            })
            .collect())
    }

    /// The process id of the running server, if it runs.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(|c| c.id())
    }

    /// How long [`MariaDb::start`] took (install plus start).
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// The server's error log so far.
    pub fn error_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("error.log")).unwrap_or_default()
    }

    /// Runs SQL (one or more `;`-separated statements) as root over the unix socket with the
    /// `mariadb` client and returns its batch output (tab-separated, no column names).
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        self.client().sql(sql)
    }

    /// A cheap, `Send` handle that runs SQL on this server from other threads (it keeps working
    /// across [`MariaDb::restart`], failing while the server is down).
    pub fn client(&self) -> Client {
        Client { socket: self.socket(), port: self.port }
    }

    /// Runs a query and splits its output into rows of tab-separated fields.
    pub fn query(&self, sql: &str) -> io::Result<Vec<Vec<String>>> {
        Ok(self.sql(sql)?.lines().map(|l| l.split('\t').map(str::to_owned).collect()).collect())
    }

    /// Runs a query that returns one value and returns it (empty string for no rows).
    pub fn value(&self, sql: &str) -> io::Result<String> {
        Ok(self.sql(sql)?.lines().next().unwrap_or("").to_owned())
    }

    fn launch(&mut self, fresh_port: bool) -> io::Result<()> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            if fresh_port || self.port == 0 {
                self.port = free_port()?;
            }
            let log_len = std::fs::metadata(self.dir().join("error.log")).map(|m| m.len()).unwrap_or(0);
            let child = spawn_tied_to_process(self.command()?)?;
            self.child = Some(child);
            match self.wait_ready() {
                Ok(()) => return Ok(()),
                Err(e) => {
                    self.kill();
                    let log = self.error_log();
                    let new_log = log.get(log_len as usize..).unwrap_or(&log).to_owned();
                    let port_taken = new_log.contains("Bind on TCP/IP port")
                        || new_log.contains("Address already in use");
                    if port_taken && fresh_port && attempts < 5 {
                        continue;
                    }
                    return Err(io::Error::new(
                        e.kind(),
                        format!("mariadbd did not start: {e}\n--- error log ---\n{new_log}"),
                    ));
                }
            }
        }
    }

    fn command(&self) -> io::Result<Command> {
        let dir = self.dir();
        let mut cmd = Command::new(find_binary(&["mariadbd", "mysqld"])?);
        cmd.arg("--no-defaults");
        if running_as_root() {
            cmd.arg("--user=root");
        }
        cmd.arg(format!("--datadir={}", dir.join("data").display()))
            .arg(format!("--port={}", self.port))
            .arg("--bind-address=127.0.0.1")
            .arg(format!("--socket={}", self.socket().display()))
            .arg(format!("--pid-file={}", dir.join("mariadbd.pid").display()))
            .arg(format!("--log-error={}", dir.join("error.log").display()))
            .arg(format!("--tmpdir={}", dir.join("tmp").display()))
            .arg("--skip-name-resolve")
            .arg("--character-set-server=utf8mb4")
            .arg("--collation-server=utf8mb4_general_ci")
            .arg("--innodb-buffer-pool-size=64M")
            .arg("--innodb-log-file-size=16M")
            .arg("--innodb-flush-log-at-trx-commit=2")
            .arg("--sync-binlog=0")
            .arg("--performance-schema=OFF")
            .arg("--max-connections=300")
            .arg("--max-allowed-packet=256M")
            .arg("--skip-slave-start")
            .args(self.config.flags(&self.binlog_dir().join("mysql-bin").display().to_string()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        Ok(cmd)
    }

    fn wait_ready(&mut self) -> io::Result<()> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(child) = self.child.as_mut() {
                if let Some(status) = child.try_wait()? {
                    return Err(io::Error::other(format!("mariadbd exited during startup ({status})")));
                }
            }
            if handshake_ok(self.port) && self.socket().exists() {
                return Ok(());
            }
            if Instant::now() > deadline {
                return Err(io::Error::new(io::ErrorKind::TimedOut, "no handshake within 60 s"));
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }
}

/// Runs SQL on a server through the `mariadb` command-line client over the unix socket.
#[derive(Debug, Clone)]
pub struct Client {
    socket: PathBuf,
    port: u16,
}

impl Client {
    /// Runs SQL as root and returns the batch output (tab-separated, no column names).
    pub fn sql(&self, sql: &str) -> io::Result<String> {
        let mut child = self.command()?.arg("--comments").stdout(Stdio::piped()).spawn()?;
        {
            use std::io::Write;
            let mut stdin = child.stdin.take().ok_or_else(|| io::Error::other("no stdin"))?;
            stdin.write_all(sql.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        if !out.status.success() {
            return Err(io::Error::other(format!(
                "SQL failed on port {}: {}\n--- statement ---\n{}",
                self.port,
                String::from_utf8_lossy(&out.stderr).trim(),
                truncate(sql, 2000)
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

/// One `mariadb` client process fed statements through its standard input: a load generator
/// that runs hundreds or thousands of small transactions a second over one connection (a
/// process per statement, as [`Client::sql`] does, cannot).
pub struct Stream {
    child: Child,
    stdin: Option<std::process::ChildStdin>,
}

impl Client {
    /// The `mariadb` client as root over the socket, batch mode, statements on its standard
    /// input, errors on its standard error.
    fn command(&self) -> io::Result<Command> {
        let mut c = Command::new(find_binary(&["mariadb", "mysql"])?);
        c.arg("--no-defaults")
            .arg("--batch")
            .arg("--skip-column-names")
            .arg("--default-character-set=utf8mb4")
            .arg("-S")
            .arg(&self.socket)
            .arg("-uroot")
            .stdin(Stdio::piped())
            .stderr(Stdio::piped());
        Ok(c)
    }

    /// A [`Stream`] on this server.
    pub fn stream(&self) -> io::Result<Stream> {
        let mut child = self.command()?.stdout(Stdio::null()).spawn()?;
        let stdin = child.stdin.take();
        Ok(Stream { child, stdin })
    }
}

impl Stream {
    /// Sends one statement (without its `;`); it runs after the ones sent before.
    pub fn send(&mut self, sql: &str) -> io::Result<()> {
        use std::io::Write;
        let stdin = self.stdin.as_mut().ok_or_else(|| io::Error::other("the stream is closed"))?;
        stdin.write_all(sql.as_bytes())?;
        stdin.write_all(b";\n")
    }

    /// Waits until every statement ran; an error names the client's message.
    pub fn finish(mut self) -> io::Result<()> {
        drop(self.stdin.take());
        let mut err = String::new();
        if let Some(mut e) = self.child.stderr.take() {
            use std::io::Read;
            let _ = e.read_to_string(&mut err);
        }
        let status = self.child.wait()?;
        if !status.success() {
            return Err(io::Error::other(format!("the streamed statements failed: {}", err.trim())));
        }
        Ok(())
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        let _ = self.stop();
        // TempDir removes the directory; do it explicitly to surface nothing but keep order clear.
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

fn install_datadir(dir: &Path) -> io::Result<()> {
    // `normal` root authentication creates a passwordless root for localhost, 127.0.0.1 and ::1.
    let mut cmd = Command::new(find_binary(&["mariadb-install-db", "mysql_install_db"])?);
    cmd.arg("--no-defaults");
    if running_as_root() {
        cmd.arg("--user=root");
    }
    let out = cmd
        .arg(format!("--datadir={}", dir.join("data").display()))
        .arg("--auth-root-authentication-method=normal")
        .arg("--skip-test-db")
        .arg("--innodb-log-file-size=16M")
        // Parallel bootstraps must not share /tmp: they would drop each other's temporary tables.
        .arg(format!("--tmpdir={}", dir.join("tmp").display()))
        .stdin(Stdio::null())
        .output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "mariadb-install-db failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(())
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// True when something on `port` sends a MySQL protocol-10 handshake.
fn handshake_ok(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect_timeout(&([127, 0, 0, 1], port).into(), Duration::from_millis(200)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_millis(500)));
    let mut head = [0u8; 5];
    s.read_exact(&mut head).is_ok() && head[4] == 10
}

fn truncate(s: &str, n: usize) -> &str {
    match s.char_indices().nth(n) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// Removes directories left by test processes that died without dropping their servers.
fn reap_stale_dirs() {
    use std::sync::Once;
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let base = std::env::var_os("OTTER_TESTKIT_TMP").map(PathBuf::from).unwrap_or_else(|| "/tmp".into());
        let Ok(entries) = std::fs::read_dir(&base) else { return };
        for e in entries.flatten() {
            let name = e.file_name();
            if !name.to_string_lossy().starts_with(DIR_PREFIX) {
                continue;
            }
            let dir = e.path();
            let owner = std::fs::read_to_string(dir.join(OWNER_FILE)).ok().and_then(|s| s.trim().parse::<u32>().ok());
            match owner {
                Some(pid) if process_alive(pid) => continue,
                None => continue, // not ours, or still being created
                Some(_) => {}
            }
            if let Some(pid) = std::fs::read_to_string(dir.join("mariadbd.pid")).ok().and_then(|s| s.trim().parse::<u32>().ok()) {
                let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                if String::from_utf8_lossy(&cmdline).contains(&*dir.to_string_lossy()) {
                    signal(pid, libc::SIGKILL);
                }
            }
            let _ = std::fs::remove_dir_all(&dir);
        }
    });
}
