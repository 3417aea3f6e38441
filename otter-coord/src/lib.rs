//! Many otter nodes on an existing coordinator (etcd): each pipeline is held by one node, the
//! pipelines are spread evenly over the live nodes, and they move when a node dies, joins or
//! loses the coordinator. No home-made consensus: etcd's leases and transactions decide.
//!
//! - [`Member`] joins the cluster: a node key under an etcd lease that the member keeps alive;
//!   a member that cannot renew it for half its TTL reports itself unhealthy (its node must stop
//!   writing) before etcd lets its claims expire.
//! - [`plan`] decides, from the live nodes and the current owners, what this node claims and
//!   releases: at most `ceil(P / N)` pipelines per node.
//! - A claim is a transaction that creates the pipeline's owner key only if it does not exist,
//!   under the member's lease; the key's create revision is the pipeline's **fencing epoch**,
//!   which the loader writes with the data on the target (a later claim always has a higher
//!   revision, and the target rejects the commits of an older epoch).
//!
//! ```no_run
//! # async fn demo() -> otter_core::Result<()> {
//! use otter_coord::{plan, CoordinatorConfig, Member};
//! let cfg = CoordinatorConfig::etcd(vec!["http://127.0.0.1:2379".into()]);
//! let member = Member::join(&cfg, "node-a").await?;
//! let view = member.view().await?;
//! let pipelines = vec!["orders".to_owned(), "users".to_owned()];
//! let todo = plan(&pipelines, &view, member.node());
//! for p in &todo.claim {
//!     if let Some(epoch) = member.claim(p).await? {
//!         println!("holding {p} at epoch {epoch}");
//!     }
//! }
//! # Ok(()) }
//! ```

mod balance;
mod config;
mod etcd;

pub use balance::{plan, Plan, View};
pub use config::CoordinatorConfig;
pub use etcd::{check, Member};
