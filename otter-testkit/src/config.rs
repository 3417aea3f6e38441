//! What a test asks of a server: the replication-relevant options, with defaults that match a
//! typical production primary (ROW binlog, FULL image, CRC32 checksums).

/// Options for one throwaway server. Build with [`ServerConfig::new`] and the chained setters.
///
/// Every option maps to one `mariadbd` command-line flag; `None` leaves the server default.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `--server-id`. Distinct per server in one test.
    pub server_id: u32,
    /// `--log-bin` into the server's binlog directory (default on).
    pub log_bin: bool,
    /// `--binlog-format` (default `ROW`).
    pub binlog_format: Option<String>,
    /// `--binlog-row-image` (`FULL`, `MINIMAL`, `NOBLOB`).
    pub binlog_row_image: Option<String>,
    /// `--binlog-row-metadata` (`NO_LOG`, `MINIMAL`, `FULL`; MariaDB 10.5+).
    pub binlog_row_metadata: Option<String>,
    /// `--gtid-domain-id`.
    pub gtid_domain_id: Option<u32>,
    /// `--log-bin-compress` (MariaDB compressed QUERY and ROWS events).
    pub log_bin_compress: bool,
    /// `--binlog-checksum` (`CRC32` or `NONE`).
    pub binlog_checksum: Option<String>,
    /// `--auto-increment-increment`.
    pub auto_increment_increment: Option<u32>,
    /// `--auto-increment-offset`.
    pub auto_increment_offset: Option<u32>,
    /// `--binlog-annotate-row-events` (MariaDB default on).
    pub annotate_rows: Option<bool>,
    /// `--log-slave-updates`.
    pub log_slave_updates: bool,
    /// Further raw flags, e.g. `--max-binlog-size=4096`.
    pub extra_args: Vec<String>,
}

impl ServerConfig {
    /// A ROW-format primary with the given server id.
    pub fn new(server_id: u32) -> Self {
        ServerConfig {
            server_id,
            log_bin: true,
            binlog_format: Some("ROW".into()),
            binlog_row_image: None,
            binlog_row_metadata: None,
            gtid_domain_id: None,
            log_bin_compress: false,
            binlog_checksum: None,
            auto_increment_increment: None,
            auto_increment_offset: None,
            annotate_rows: None,
            log_slave_updates: false,
            extra_args: Vec::new(),
        }
    }

    /// Turns the binary log on or off.
    pub fn log_bin(mut self, on: bool) -> Self {
        self.log_bin = on;
        self
    }
    /// Sets `binlog_format`.
    pub fn binlog_format(mut self, v: &str) -> Self {
        self.binlog_format = Some(v.into());
        self
    }
    /// Sets `binlog_row_image`.
    pub fn binlog_row_image(mut self, v: &str) -> Self {
        self.binlog_row_image = Some(v.into());
        self
    }
    /// Sets `binlog_row_metadata`.
    pub fn binlog_row_metadata(mut self, v: &str) -> Self {
        self.binlog_row_metadata = Some(v.into());
        self
    }
    /// Sets `gtid_domain_id`.
    pub fn gtid_domain_id(mut self, v: u32) -> Self {
        self.gtid_domain_id = Some(v);
        self
    }
    /// Turns on `log_bin_compress`.
    pub fn log_bin_compress(mut self, on: bool) -> Self {
        self.log_bin_compress = on;
        self
    }
    /// Sets `binlog_checksum`.
    pub fn binlog_checksum(mut self, v: &str) -> Self {
        self.binlog_checksum = Some(v.into());
        self
    }
    /// Sets `auto_increment_increment` and `auto_increment_offset`.
    pub fn auto_increment(mut self, increment: u32, offset: u32) -> Self {
        self.auto_increment_increment = Some(increment);
        self.auto_increment_offset = Some(offset);
        self
    }
    /// Sets `binlog_annotate_row_events`.
    pub fn annotate_rows(mut self, on: bool) -> Self {
        self.annotate_rows = Some(on);
        self
    }
    /// Turns on `log_slave_updates`.
    pub fn log_slave_updates(mut self, on: bool) -> Self {
        self.log_slave_updates = on;
        self
    }
    /// Adds a raw `mariadbd` flag.
    pub fn arg(mut self, flag: impl Into<String>) -> Self {
        self.extra_args.push(flag.into());
        self
    }

    /// Offers TLS with `certs` (clients choose; add `--require-secure-transport=ON` to require it).
    pub fn tls(self, certs: &crate::Certs) -> Self {
        self.arg(format!("--ssl-ca={}", certs.ca.display()))
            .arg(format!("--ssl-cert={}", certs.cert.display()))
            .arg(format!("--ssl-key={}", certs.key.display()))
    }

    /// The `mariadbd` flags for these options (datadir, ports and paths are added by the server).
    pub(crate) fn flags(&self, binlog_base: &str) -> Vec<String> {
        let mut f = vec![format!("--server-id={}", self.server_id)];
        if self.log_bin {
            f.push(format!("--log-bin={binlog_base}"));
            f.push(format!("--log-bin-index={binlog_base}.index"));
        } else {
            f.push("--skip-log-bin".into());
        }
        let opt = |f: &mut Vec<String>, name: &str, v: &Option<String>| {
            if let Some(v) = v {
                f.push(format!("--{name}={v}"));
            }
        };
        opt(&mut f, "binlog-format", &self.binlog_format);
        opt(&mut f, "binlog-row-image", &self.binlog_row_image);
        opt(&mut f, "binlog-row-metadata", &self.binlog_row_metadata);
        opt(&mut f, "binlog-checksum", &self.binlog_checksum);
        let num = |f: &mut Vec<String>, name: &str, v: Option<u32>| {
            if let Some(v) = v {
                f.push(format!("--{name}={v}"));
            }
        };
        num(&mut f, "gtid-domain-id", self.gtid_domain_id);
        num(&mut f, "auto-increment-increment", self.auto_increment_increment);
        num(&mut f, "auto-increment-offset", self.auto_increment_offset);
        if self.log_bin_compress {
            f.push("--log-bin-compress=ON".into());
            // Compress every event, not only the big ones, so tests see compressed events.
            f.push("--log-bin-compress-min-len=10".into());
        }
        if let Some(on) = self.annotate_rows {
            f.push(format!("--binlog-annotate-row-events={}", if on { "ON" } else { "OFF" }));
        }
        if self.log_slave_updates {
            f.push("--log-slave-updates=ON".into());
        }
        f.extend(self.extra_args.iter().cloned());
        f
    }
}
