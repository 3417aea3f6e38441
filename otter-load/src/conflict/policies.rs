//! The guarded statements of each policy: how one incoming change is applied, and which of its
//! decisions are logged.
//!
//! Every change becomes a few statements of its apply transaction: lock the row(s) (and the
//! tombstone), log each decision that changes or drops the incoming change (an
//! `INSERT ... SELECT` that finds a row only in that situation), then the guarded write
//! (`UPDATE`/`DELETE ... WHERE key AND <incoming wins>`), then an insert of the row if it is
//! missing and nothing says it must stay gone. Decisions are SQL conditions on the rows as they
//! are on the target, so nothing is read back into the loader and each site decides the same way.
//!
//! Invariants: under `last-writer-wins` a delete of version `v` beats an insert or update of
//! version `<= v` and loses to a newer one, on every site whatever the order of arrival — the
//! site that still has the row compares versions, the site that deleted it compares with its
//! tombstone ([`super::tombstone`]); updates against updates compare versions, then sites. Logged
//! decisions: the row here differs from the change's before image (a conflict: who won), the row
//! is missing (re-inserted, or dropped because deleted here at a version >= the incoming one),
//! and a delete that found nothing to delete.

use otter_binlog::Value;
use otter_core::change::ChangeKind;
use otter_core::Result;

use super::sql::{groups, need, q, Ctx, Guarded, Sites};
use crate::mysql::tombstone;
use super::{CompiledRule, ConflictPolicy};
use crate::dialect::{SqlDialect, TargetTable};

/// A decision text, as an SQL literal.
fn said(text: &str) -> String {
    q(text)
}

/// The statements that apply `op` under `rule`.
pub(crate) fn guarded_statements(
    d: &dyn SqlDialect,
    t: &TargetTable<'_>,
    rule: &CompiledRule,
    sites: Sites<'_>,
    op: &Guarded,
) -> Result<Vec<String>> {
    let c = Ctx { d, t, rule, sites };
    let mut out = Vec::new();
    for img in [op.before.as_deref(), op.after.as_deref()].into_iter().flatten() {
        let l = c.lock(img)?;
        if !out.contains(&l) {
            out.push(l);
        }
    }
    match rule.rule.policy {
        ConflictPolicy::LastWriterWins => last_writer_wins(&c, op, &mut out)?,
        ConflictPolicy::PrimaryWins | ConflictPolicy::Report => primary_or_report(&c, op, &mut out)?,
        ConflictPolicy::ColumnGroups => column_groups(&c, op, &mut out)?,
    }
    Ok(out)
}

fn last_writer_wins(c: &Ctx<'_, '_>, op: &Guarded, out: &mut Vec<String>) -> Result<()> {
    let (origin, target) = (q(c.sites.origin), q(c.sites.target));
    let tomb = tombstone::table(c.sites.schema, c.t.db, c.t.name);
    let (vname, site, at) = (tombstone::VERSION, tombstone::SITE, tombstone::AT);
    match op.kind {
        ChangeKind::Delete => {
            let b = need(&op.before, "before")?;
            let (_, vb) = c.version(b)?;
            let wins = c.lww_wins(b, true)?;
            out.push(format!("SELECT 1 FROM {tomb} WHERE {} FOR UPDATE", c.key(b)?));
            let differs = format!("NOT {}", c.eq(b, &c.present(b))?);
            let decision = format!(
                "IF({wins}, {}, {})",
                said("incoming delete applied (its version is newer than or equal to the row here)"),
                said("incoming delete dropped: the row here has a newer version")
            );
            out.push(c.log(b, None, &differs, &format!("IF({wins}, {origin}, {target})"), &decision)?);
            out.push(c.log_gone(&[b], None, "TRUE", &origin, &said("row already gone here: the incoming delete had nothing to delete"))?);
            out.push(c.delete(b, &wins)?);
            // The delete's own version (it may be newer than the row it removed).
            let keys: Vec<String> = c.t.key.iter().map(|&i| crate::dialect::column(c.t, i).map(|col| c.ident(&col.name))).collect::<Result<_>>()?;
            let vals: Vec<String> = c.t.key.iter().map(|&i| c.lit(b, i)).collect::<Result<_>>()?;
            out.push(tombstone::record(&tomb, &keys, &vals, &vb, c.sites.origin));
        }
        kind => {
            let a = need(&op.after, "after")?;
            let b = if kind == ChangeKind::Update { need(&op.before, "before")? } else { a };
            let (_, va) = c.version(a)?;
            let wins = c.lww_wins(a, false)?;
            out.push(format!("SELECT 1 FROM {tomb} WHERE {} FOR UPDATE", c.key(a)?));
            let differs = format!("NOT {}", c.eq(b, &c.present(b))?);
            let decision = format!(
                "IF({wins}, {}, {})",
                said("incoming change applied: its version is newer (or equal, from the higher site)"),
                said("incoming change dropped: the row here has a newer version (or equal, from the higher site)")
            );
            out.push(c.log(b, Some(a), &differs, &format!("IF({wins}, {origin}, {target})"), &decision)?);
            // Row missing: deleted here at a version >= the incoming one -> the delete wins.
            let dead = format!("EXISTS (SELECT 1 FROM {tomb} WHERE {} AND {vname} >= {va})", c.key(a)?);
            let from = format!("{tomb} WHERE {} AND {vname} >= {va} AND {}", c.key(a)?, c.absent(&[b, a])?);
            let tomb_row = format!("JSON_OBJECT('deleted_at_version', {vname}, 'site', {site}, 'at', {at})");
            let gone = format!("CONCAT({}, {vname})", said("incoming change dropped: the row was deleted here at version "));
            out.push(c.log_insert(a, &tomb_row, Some(a), &target, &gone, &from)?);
            // Row missing otherwise: re-inserted (an update always says so; an insert only when
            // it overrides an older delete).
            let older = format!("(SELECT MAX({vname}) FROM {tomb} WHERE {})", c.key(a)?);
            let reinsert = format!(
                "IF({older} IS NULL, {}, CONCAT({}, {older}, {}))",
                said("row missing here: re-inserted"),
                said("row deleted here at the older version "),
                said(": re-inserted")
            );
            let when = if kind == ChangeKind::Update { format!("NOT {dead}") } else { format!("NOT {dead} AND {older} IS NOT NULL") };
            out.push(c.log_gone(&[b, a], Some(a), &when, &origin, &reinsert)?);
            out.extend(c.update(b, a, &c.present(a), &wins)?);
            out.push(c.insert_missing(a, &[b, a], Some(&format!("NOT {dead}")))?);
        }
    }
    Ok(())
}

fn primary_or_report(c: &Ctx<'_, '_>, op: &Guarded, out: &mut Vec<String>) -> Result<()> {
    let (origin, target) = (q(c.sites.origin), q(c.sites.target));
    let policy = c.rule.rule.policy;
    let at_primary = policy == ConflictPolicy::PrimaryWins && c.rule.rule.primary.as_deref() == Some(c.sites.target);
    let gone_note = said("row already gone here: the incoming delete had nothing to delete");
    match op.kind {
        ChangeKind::Delete => {
            let b = need(&op.before, "before")?;
            let differs = format!("NOT {}", c.eq(b, &c.present(b))?);
            out.push(c.log_gone(&[b], None, "TRUE", &origin, &gone_note)?);
            if at_primary {
                out.push(c.log(b, None, &differs, &target, &said("incoming delete dropped: the primary keeps its row"))?);
                out.push(c.delete(b, &c.eq(b, &c.present(b))?)?);
            } else {
                out.push(c.log(b, None, &differs, &origin, &said("incoming delete applied over the row here"))?);
                out.push(c.delete(b, "TRUE")?);
            }
        }
        ChangeKind::Insert if at_primary || policy == ConflictPolicy::Report => {
            let a = need(&op.after, "after")?;
            // Insert first, then log a row that is there and differs: a concurrent insert of the
            // same key (another source) is waited for by the insert and then seen by the log.
            out.push(c.insert_missing(a, &[a], None)?);
            let differs = format!("NOT {}", c.eq(a, &c.present(a))?);
            out.push(c.log(a, Some(a), &differs, &target, &said("incoming insert dropped: a different row with this key is here"))?);
        }
        ChangeKind::Update if at_primary => {
            let (b, a) = (need(&op.before, "before")?, need(&op.after, "after")?);
            let same = c.eq(b, &c.present(b))?;
            out.push(c.log(b, Some(a), &format!("NOT {same}"), &target, &said("incoming update dropped: the primary keeps its row"))?);
            out.push(c.log_gone(&[b], Some(a), "TRUE", &target, &said("incoming update dropped: the row is missing here (the primary)"))?);
            out.extend(c.update(b, a, &c.present(a), &same)?);
        }
        kind => {
            // Not at the primary (or fan-in updates): the incoming change is applied.
            let a = need(&op.after, "after")?;
            let b = if kind == ChangeKind::Update { need(&op.before, "before")? } else { a };
            let differs = format!("NOT {}", c.eq(b, &c.present(b))?);
            let note = if policy == ConflictPolicy::Report { "incoming change applied over the row here" } else { "incoming change applied: the primary's side wins" };
            out.push(c.log(b, Some(a), &differs, &origin, &said(note))?);
            if kind == ChangeKind::Update {
                out.push(c.log_gone(&[b, a], Some(a), "TRUE", &origin, &said("row missing here: re-inserted"))?);
            }
            out.extend(c.update(b, a, &c.present(a), "TRUE")?);
            out.push(c.insert_missing(a, &[b, a], None)?);
        }
    }
    Ok(())
}

fn column_groups(c: &Ctx<'_, '_>, op: &Guarded, out: &mut Vec<String>) -> Result<()> {
    let (origin, target) = (q(c.sites.origin), q(c.sites.target));
    let at_primary = c.rule.rule.primary.as_deref() == Some(c.sites.target);
    let winner = if at_primary { &target } else { &origin };
    match op.kind {
        ChangeKind::Delete => {
            let b = need(&op.before, "before")?;
            let differs = format!("NOT {}", c.eq(b, &c.present(b))?);
            out.push(c.log(b, None, &differs, &origin, &said("incoming delete applied: deletes win"))?);
            out.push(c.log_gone(&[b], None, "TRUE", &origin, &said("row already gone here: the incoming delete had nothing to delete"))?);
            out.push(c.delete(b, "TRUE")?);
        }
        // Snapshot rows reach the policies as inserts (the engine maps them); listed for completeness.
        ChangeKind::Insert | ChangeKind::Snapshot => {
            let a = need(&op.after, "after")?;
            let differs = format!("NOT {}", c.eq(a, &c.present(a))?);
            let note = if at_primary { "incoming insert dropped: the primary keeps its row" } else { "incoming insert applied: the primary's row wins" };
            out.push(c.log(a, Some(a), &differs, winner, &said(note))?);
            if !at_primary {
                out.extend(c.update(a, a, &c.present(a), "TRUE")?);
            }
            out.push(c.insert_missing(a, &[a], None)?);
        }
        ChangeKind::Update => {
            let (b, a) = (need(&op.before, "before")?, need(&op.after, "after")?);
            let changed: Vec<usize> = c.present(a).into_iter().filter(|&i| b.get(i) != a.get(i)).collect();
            let key_changed = c.t.key.iter().any(|i| changed.contains(i));
            out.push(c.log_gone(&[b], Some(a), "TRUE", &target, &said("incoming update dropped: the row was deleted here (deletes win)"))?);
            for group in groups(c, &changed)? {
                let same = c.eq(b, &group)?;
                let note = if at_primary { "column group kept: the primary's values win" } else { "column group applied: the primary's values win" };
                out.push(c.log(b, Some(a), &format!("NOT {same}"), winner, &said(note))?);
                let cond = if at_primary { same } else { "TRUE".into() };
                let set: Vec<usize> = group.into_iter().filter(|i| !c.t.key.contains(i) && !matches!(a.get(*i), Some(Value::Absent) | None)).collect();
                out.extend(c.update(b, a, &set, &cond)?);
            }
            if key_changed {
                out.extend(c.update(b, a, c.t.key, "TRUE")?);
            }
        }
    }
    Ok(())
}
