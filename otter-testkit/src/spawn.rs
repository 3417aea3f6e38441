//! Process plumbing: finding the MariaDB binaries and spawning servers that die with the test.
//!
//! Invariant: every `mariadbd` is spawned from one long-lived thread with `PR_SET_PDEATHSIG`, so the
//! kernel kills it when the test process exits for any reason (panic=abort, kill -9 of the test
//! runner). `PDEATHSIG` fires when the *spawning thread* exits, which is why the spawning is done by
//! a thread that lives as long as the process and never by a short-lived test or blocking-pool thread.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock};

type Reply = mpsc::Sender<io::Result<Child>>;

/// Finds an executable by name on `PATH` and in the usual sbin directories.
pub(crate) fn find_binary(names: &[&str]) -> io::Result<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    for extra in ["/usr/sbin", "/usr/local/sbin", "/usr/libexec", "/usr/local/mysql/bin"] {
        dirs.push(PathBuf::from(extra));
    }
    for name in names {
        for dir in &dirs {
            let candidate = dir.join(name);
            if is_executable(&candidate) {
                return Ok(candidate);
            }
        }
    }
    Err(io::Error::new(
        io::ErrorKind::NotFound,
        format!(
            "none of {names:?} found on PATH or in /usr/sbin; install MariaDB with \
             `apt-get install mariadb-server mariadb-client` (scripts/test does this when missing)"
        ),
    ))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Spawns `cmd` from the process-lifetime spawner thread, with the parent-death signal set: the
/// child is killed when the test process exits, however it exits (a test that panics leaves no
/// process running past its test binary).
pub fn spawn_tied_to_process(cmd: Command) -> io::Result<Child> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<(Command, Reply)>>> = OnceLock::new();
    let tx = SPAWNER.get_or_init(|| {
        let (tx, rx) = mpsc::channel::<(Command, Reply)>();
        std::thread::Builder::new()
            .name("otter-testkit-spawner".into())
            .spawn(move || {
                for (mut cmd, reply) in rx {
                    let _ = reply.send(spawn_with_pdeathsig(&mut cmd));
                }
            })
            .map(|_| ())
            .unwrap_or_else(|e| panic!("cannot start the testkit spawner thread: {e}"));
        Mutex::new(tx)
    });
    let (reply_tx, reply_rx) = mpsc::channel();
    tx.lock()
        .map_err(|_| io::Error::other("testkit spawner lock poisoned"))?
        .send((cmd, reply_tx))
        .map_err(|_| io::Error::other("testkit spawner thread is gone"))?;
    reply_rx.recv().map_err(|_| io::Error::other("testkit spawner thread is gone"))?
}

fn spawn_with_pdeathsig(cmd: &mut Command) -> io::Result<Child> {
    use std::os::unix::process::CommandExt;
    let parent = std::process::id();
    // SAFETY: the closure runs between fork and exec and only calls async-signal-safe libc
    // functions (prctl, getppid, kill on our own pid); it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(io::Error::last_os_error());
            }
            // The parent may have died between fork and prctl.
            if libc::getppid() as u32 != parent {
                libc::kill(libc::getpid(), libc::SIGKILL);
            }
            Ok(())
        });
    }
    cmd.spawn()
}

/// Whether this process runs as root (then `mariadbd` needs `--user=root`).
pub(crate) fn running_as_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Sends `signal` to `pid`; false if no such process.
pub(crate) fn signal(pid: u32, signal: i32) -> bool {
    // SAFETY: kill has no memory-safety preconditions.
    unsafe { libc::kill(pid as libc::pid_t, signal) == 0 }
}

/// Whether a process with this pid exists (and is not a zombie we already reaped).
pub fn process_alive(pid: u32) -> bool {
    if !signal(pid, 0) {
        return false;
    }
    // A zombie still answers kill(0); look at its state.
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat.rsplit(')').next().map(|s| s.trim_start().starts_with('Z')).unwrap_or(false),
        Err(_) => false,
    }
}
