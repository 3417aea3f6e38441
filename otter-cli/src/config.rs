//! The `otter run` configuration file (TOML): global settings and one or more pipelines, each a
//! source, optional transforms and a sink.
//!
//! ```toml
//! state_dir = "./otter-state"          # default ./otter-state
//! metrics_addr = "127.0.0.1:9464"      # optional Prometheus endpoint (loopback unless a host is given)
//!
//! [[pipeline]]
//! name = "a_to_b"
//! [pipeline.source]                    # otter_core MysqlSourceConfig
//! url = "mysql://repl:${SRC_PASSWORD}@127.0.0.1:3306"
//! from = "latest"
//! include = ["shop\\..*"]
//! snapshot = "initial"                 # optional: copy the tables' rows online first (docs/SNAPSHOT.md)
//! [pipeline.sink]                      # kind = "mysql" (otter-load) or "jsonl"
//! kind = "mysql"
//! url = "mysql://otter:${DST_PASSWORD}@127.0.0.1:3307"
//! [[pipeline.transform]]               # optional, applied in order
//! kind = "route"
//! from = "shop\\.order_[0-9]+"
//! to = "shop.orders"
//! [pipeline.batch]                     # optional: max_rows, max_bytes, linger_ms, max_in_flight
//! max_rows = 20000
//! ```
//!
//! Invariants: unknown keys (and values of the wrong type) are errors naming the key, the table it
//! is in and the pipeline; `${VAR}` in any string is replaced by the environment variable (a
//! missing one is an error naming it and the key); nothing here is ever logged with its passwords;
//! every source skips the checkpoint and marks schemas any pipeline of the file writes.

use std::path::{Path, PathBuf};

use otter_core::pipeline::BatchConfig;
use otter_core::sink::JsonlSinkConfig;
use otter_core::source::mysql::MysqlSourceConfig;
use otter_core::transform::TransformConfig;
use otter_core::{Error, Result};
use otter_load::MysqlSinkConfig;
use serde::Deserialize;

/// The whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Directory for checkpoints, schema history and status files (default `./otter-state`).
    #[serde(default = "default_state_dir")]
    pub state_dir: PathBuf,
    /// Address of the Prometheus metrics endpoint; off when absent.
    #[serde(default)]
    pub metrics_addr: Option<String>,
    /// Run the pipelines on many nodes that share them through etcd (`[coordinator]`: `kind =
    /// "etcd"`, `endpoints`, `prefix`, `ttl_secs`; see docs/HA.md). Off when absent.
    #[serde(default)]
    pub coordinator: Option<otter_coord::CoordinatorConfig>,
    /// The pipelines.
    #[serde(rename = "pipeline")]
    pub pipelines: Vec<PipelineConfig>,
}

fn default_state_dir() -> PathBuf {
    PathBuf::from("./otter-state")
}

/// One pipeline.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Unique name (also the key of its checkpoint).
    pub name: String,
    /// Where changes come from.
    pub source: MysqlSourceConfig,
    /// Where they go.
    pub sink: SinkConfig,
    /// Transforms, in order.
    #[serde(default, rename = "transform")]
    pub transforms: Vec<TransformConfig>,
    /// Batching.
    #[serde(default)]
    pub batch: BatchConfig,
    /// Site names when this pipeline is one direction of a two-way or multi-site setup
    /// (`source_site`, `target_site`, `forward`, `marks_schema`); see docs/TWO_WAY.md.
    #[serde(default)]
    pub two_way: Option<otter_core::two_way::TwoWayConfig>,
}

/// A sink, by `kind`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SinkConfig {
    /// Apply to a MySQL/MariaDB target.
    Mysql(MysqlSinkConfig),
    /// JSON lines to stdout or a file.
    Jsonl(JsonlSinkConfig),
}

/// Replaces every `${VAR}` in `s` from the environment.
fn expand(s: &str, key: &str) -> Result<String> {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        out.push_str(rest.get(..start).unwrap_or(""));
        let after = rest.get(start + 2..).unwrap_or("");
        let end = after.find('}').ok_or_else(|| Error::config(format!("unterminated ${{ in the value of {key}")))?;
        let name = after.get(..end).unwrap_or("");
        let value = std::env::var(name).map_err(|_| {
            Error::config(format!("environment variable {name} (used by {key}) is not set"))
        })?;
        out.push_str(&value);
        rest = after.get(end + 1..).unwrap_or("");
    }
    out.push_str(rest);
    Ok(out)
}

fn expand_all(v: &mut toml::Value, path: &str) -> Result<()> {
    match v {
        toml::Value::String(s) => *s = expand(s, path)?,
        toml::Value::Array(a) => {
            for (i, x) in a.iter_mut().enumerate() {
                expand_all(x, &format!("{path}[{i}]"))?;
            }
        }
        toml::Value::Table(t) => {
            for (k, x) in t.iter_mut() {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                expand_all(x, &p)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// The `name` of each `[[pipeline]]`, in order (to name the pipeline an error is in).
fn pipeline_names(v: &toml::Value) -> Vec<Option<String>> {
    let list = v.get("pipeline").and_then(|p| p.as_array());
    list.map(|a| a.iter().map(|p| p.get("name").and_then(|n| n.as_str()).map(str::to_owned)).collect()).unwrap_or_default()
}

/// Where a deserialization error is, in the file's terms: the dotted key or table
/// (`pipeline.sink`; for an unknown key, the table it is in) and the pipeline's name; empty at
/// the top level.
fn where_in(path: &serde_path_to_error::Path, names: &[Option<String>], msg: &str) -> String {
    use serde_path_to_error::Segment;
    let mut table: Vec<&str> = Vec::new();
    let mut pipeline = None;
    for seg in path.iter() {
        match seg {
            Segment::Map { key } => table.push(key),
            Segment::Seq { index } if table.as_slice() == ["pipeline"] => {
                pipeline = Some(match names.get(*index) {
                    Some(Some(n)) => format!("pipeline {n:?}"),
                    _ => format!("pipeline #{}", index + 1),
                });
            }
            _ => {}
        }
    }
    if let Some(last) = table.last() {
        if msg.starts_with(&format!("unknown field `{last}`")) {
            table.pop();
        }
    }
    let table = table.join(".");
    match pipeline {
        Some(p) if table == "pipeline" => p,
        Some(p) => format!("{table} ({p})"),
        None => table,
    }
}

/// A TOML syntax error with its line and column, never the line's text (it may hold a password).
fn toml_error(text: &str, e: &toml::de::Error) -> String {
    let Some(at) = e.span().map(|s| s.start.min(text.len())) else {
        return format!("invalid TOML: {}", e.message());
    };
    let before = text.get(..at).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    format!("invalid TOML at line {line}, column {column}: {}", e.message().trim_end())
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::config(format!("cannot read config {}", path.display())).with_source(e))?;
        Config::parse(&text).map_err(|e| e.context(path.display()))
    }

    /// Parses and validates config text.
    pub fn parse(text: &str) -> Result<Config> {
        let mut value: toml::Value = toml::from_str(text).map_err(|e| Error::config(toml_error(text, &e)))?;
        expand_all(&mut value, "")?;
        let names = pipeline_names(&value);
        let cfg: Config = serde_path_to_error::deserialize(value).map_err(|e: serde_path_to_error::Error<toml::de::Error>| {
            let msg = e.inner().message().to_owned();
            let at = where_in(e.path(), &names, &msg);
            Error::config(if at.is_empty() { msg } else { format!("{at}: {msg}") })
        })?;
        cfg.validate()?;
        let mut cfg = cfg;
        cfg.exclude_own_schemas();
        Ok(cfg)
    }

    /// otter's own schemas named in this file (checkpoint tables, two-way marks) besides the
    /// default `otter`, which every source skips anyway: every source of the file skips them too,
    /// so a chain (A -> B -> C) or a two-way pair never carries otter's bookkeeping as data.
    fn exclude_own_schemas(&mut self) {
        let mut own: Vec<String> = Vec::new();
        for p in &self.pipelines {
            if let SinkConfig::Mysql(m) = &p.sink {
                own.push(m.checkpoint_schema.clone());
            }
            if let Some(tw) = &p.two_way {
                own.push(tw.marks_schema.clone());
            }
        }
        own.retain(|s| !s.eq_ignore_ascii_case("otter"));
        own.sort();
        own.dedup();
        for p in &mut self.pipelines {
            for schema in &own {
                // A regex on `schema.table`; the name's non-word characters escaped.
                let escaped: String = schema.chars().flat_map(|c| (!(c.is_alphanumeric() || c == '_')).then_some('\\').into_iter().chain([c])).collect();
                let pattern = format!("{escaped}\\..*");
                if !p.source.exclude.contains(&pattern) {
                    p.source.exclude.push(pattern);
                }
            }
        }
    }

    fn validate(&self) -> Result<()> {
        if self.pipelines.is_empty() {
            return Err(Error::config("no [[pipeline]] defined"));
        }
        if let Some(c) = &self.coordinator {
            c.validate()?;
        }
        let mut names = std::collections::HashSet::new();
        for p in &self.pipelines {
            let ctx = |e: Error| e.context(format!("pipeline {}", p.name));
            if p.name.is_empty() || !p.name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
                return Err(Error::config(format!("pipeline name {:?} must be letters, digits, '_' or '-'", p.name)));
            }
            if !names.insert(p.name.clone()) {
                return Err(Error::config(format!("pipeline name {} is used twice", p.name)));
            }
            p.source.validate().map_err(ctx)?;
            if let Some(tw) = &p.two_way {
                tw.validate().map_err(ctx)?;
                if !matches!(p.sink, SinkConfig::Mysql(_)) {
                    return Err(ctx(Error::config("[pipeline.two_way] needs a mysql sink (marks are written on the target)")));
                }
            }
            match &p.sink {
                SinkConfig::Mysql(m) => m.validate().map_err(ctx)?,
                SinkConfig::Jsonl(_) => {}
            }
            otter_core::transform::build_all(&p.transforms).map_err(ctx)?;
            if p.batch.max_rows == 0 || p.batch.max_in_flight == 0 {
                return Err(ctx(Error::config("batch.max_rows and batch.max_in_flight must be positive")));
            }
        }
        Ok(())
    }

    /// The state directory of one pipeline.
    pub fn pipeline_dir(&self, name: &str) -> PathBuf {
        self.state_dir.join(name)
    }

    /// Who runs pipeline `name` of this file on this machine: its name, this host and its state
    /// directory. The default replica server id is derived from it (so two instances — other
    /// hosts, other state directories — never share one), and it tells this instance's leftover
    /// binlog dumps from other replicas'. Exclusive on this machine through the state lock.
    pub fn instance_identity(&self, name: &str) -> String {
        let dir = self.pipeline_dir(name);
        let dir = std::path::absolute(&dir).unwrap_or(dir);
        format!("{name}@{}:{}", otter_core::instance::host_name(), dir.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OK: &str = r#"
        state_dir = "/tmp/x"
        [[pipeline]]
        name = "a_to_b"
        [pipeline.source]
        url = "mysql://repl:${OTTER_TEST_PW}@127.0.0.1:3306"
        from = "latest"
        include = ["shop\\..*"]
        [pipeline.sink]
        kind = "mysql"
        url = "mysql://otter:pw@127.0.0.1:3307"
    "#;

    #[test]
    fn env_and_shapes() {
        std::env::set_var("OTTER_TEST_PW", "s3cret");
        let c = Config::parse(OK).unwrap();
        assert_eq!(c.pipelines[0].source.url, "mysql://repl:s3cret@127.0.0.1:3306");
        assert!(matches!(c.pipelines[0].sink, SinkConfig::Mysql(_)));
        let jsonl = OK.replace("kind = \"mysql\"\n        url = \"mysql://otter:pw@127.0.0.1:3307\"", "kind = \"jsonl\"\n        path = \"-\"");
        assert!(matches!(Config::parse(&jsonl).unwrap().pipelines[0].sink, SinkConfig::Jsonl(_)));
    }

    #[test]
    fn sources_skip_every_checkpoint_and_marks_schema_of_the_file() {
        std::env::set_var("OTTER_TEST_PW", "s3cret");
        // A chain: a_to_b keeps its checkpoints in `ops-otter` on B, which b_to_c reads.
        let chain = format!(
            "{}checkpoint_schema = \"ops-otter\"\n{}",
            OK,
            OK.replace("a_to_b", "b_to_c").replace("state_dir = \"/tmp/x\"", "").replace("include = [\"shop\\\\..*\"]", "")
        );
        let c = Config::parse(&chain).unwrap();
        for p in &c.pipelines {
            assert_eq!(p.source.exclude, ["ops\\-otter\\..*"], "{}", p.name);
            let f = otter_core::table_filter::TableFilter::new(&p.source.include, &p.source.exclude).unwrap();
            assert!(!f.allows("ops-otter", "checkpoint") && !f.allows_database("ops-otter"), "{}", p.name);
        }
        let b_to_c = otter_core::table_filter::TableFilter::new(&c.pipelines[1].source.include, &c.pipelines[1].source.exclude).unwrap();
        assert!(b_to_c.allows("shop", "orders") && b_to_c.allows("ops", "x"));
        // The default schema adds nothing (every source skips `otter` already).
        assert!(Config::parse(OK).unwrap().pipelines[0].source.exclude.is_empty());
    }

    #[test]
    fn errors_name_the_problem() {
        std::env::set_var("OTTER_TEST_PW", "s3cret");
        let e = Config::parse(&OK.replace("from = \"latest\"", "form = \"latest\"")).unwrap_err();
        assert!(e.to_string().contains("form"), "{e}");
        let e = Config::parse(&OK.replace("OTTER_TEST_PW", "OTTER_NOT_SET_ANYWHERE")).unwrap_err();
        assert!(e.to_string().contains("OTTER_NOT_SET_ANYWHERE") && e.to_string().contains("source.url"), "{e}");
        let e = Config::parse(&OK.replace("shop\\\\..*", "shop(")).unwrap_err();
        assert!(e.to_string().contains("invalid table pattern"), "{e}");
        let e = Config::parse(&OK.replace("kind = \"mysql\"", "kind = \"kafka\"")).unwrap_err();
        assert!(e.to_string().contains("kafka"), "{e}");
        assert!(!Config::parse(&OK.replace("OTTER_TEST_PW", "X}")).err().map(|e| e.to_string()).unwrap_or_default().contains("s3cret"));
    }
}
