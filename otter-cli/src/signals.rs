//! Graceful shutdown on SIGINT or SIGTERM.
//!
//! Invariant: the handlers are registered by [`Shutdown::install`], which each command calls
//! before it does any I/O, so a signal that arrives while the command is still starting (even
//! before its first log line) is seen as a stop request rather than killing the process.

use tokio::signal::unix::{signal, Signal, SignalKind};

/// Registered SIGINT and SIGTERM handlers.
pub struct Shutdown {
    int: Option<Signal>,
    term: Option<Signal>,
}

impl Shutdown {
    /// Registers the handlers now (must run inside the tokio runtime). A handler that cannot be
    /// registered is left out; the default action then applies to that signal.
    pub fn install() -> Self {
        Shutdown { int: signal(SignalKind::interrupt()).ok(), term: signal(SignalKind::terminate()).ok() }
    }

    /// Resolves when SIGINT or SIGTERM arrives (also one that arrived after `install`).
    pub async fn wait(mut self) {
        let int = async {
            match self.int.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        let term = async {
            match self.term.as_mut() {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = int => {}
            _ = term => {}
        }
    }
}
