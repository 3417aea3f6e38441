//! A throwaway etcd server on loopback (Debian's `etcd-server`), for the cluster tests: its own
//! data directory and free ports, tied to the test process like the MariaDB servers.

use std::io;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::spawn::{find_binary, spawn_tied_to_process};

/// A running etcd, stopped and removed on drop.
pub struct Etcd {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
}

impl Etcd {
    /// Starts one etcd member and waits until it answers.
    pub fn start() -> io::Result<Etcd> {
        let bin = find_binary(&["etcd"]).map_err(|_| {
            io::Error::new(io::ErrorKind::NotFound, "etcd not found: install it with `apt-get install etcd-server` (scripts/install-deps does)")
        })?;
        let dir = tempfile::Builder::new().prefix("otter-etcd-").tempdir()?;
        let port = free_port()?;
        let peer = free_port()?;
        let client_url = format!("http://127.0.0.1:{port}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut cmd = Command::new(bin);
        cmd.args(["--name", "otter-test", "--data-dir"])
            .arg(dir.path().join("data"))
            .args(["--listen-client-urls", &client_url, "--advertise-client-urls", &client_url])
            .args(["--listen-peer-urls", &peer_url, "--initial-advertise-peer-urls", &peer_url])
            .args(["--initial-cluster", &format!("otter-test={peer_url}"), "--log-level", "warn"])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join("etcd.log"))?);
        let child = spawn_tied_to_process(cmd)?;
        let etcd = Etcd { dir, port, child: Some(child) };
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err(io::Error::other(format!("etcd did not start:\n{}", std::fs::read_to_string(etcd.dir.path().join("etcd.log")).unwrap_or_default())));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(etcd)
    }

    /// The client URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The client port.
    pub fn port(&self) -> u16 {
        self.port
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn free_port() -> io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}
