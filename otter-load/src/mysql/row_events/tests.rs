//! Which tables take row events, and what a run's queries hold: read back with the parser, every
//! row in order with its key as the before image, each statement ending its last rows event, no
//! query over the packet bound; a huge row sends the run the usual way.

use std::borrow::Cow;

use base64::Engine;
use otter_binlog::{EventData, Parser, Status, Value};
use otter_core::change::ChangeId;
use otter_core::position::BinlogCoord;
use otter_core::schema::{Column, SqlType};

use super::*;

fn schema() -> TableSchema {
    let text = |name: &str, t| Column { charset: Some("utf8mb4".into()), ..Column::new(name, t) };
    let id = Column { nullable: false, ..Column::new("id", SqlType::Int) };
    TableSchema::new("s", "t", vec![id, text("v", SqlType::VarChar(20)), Column::new("b", SqlType::LongBlob)], vec![0])
}

fn target(s: &TableSchema) -> Vec<TargetColumn> {
    let types = ["int(11)", "varchar(20)", "longblob"];
    s.columns
        .iter()
        .zip(types)
        .map(|(c, ty)| TargetColumn {
            name: c.name.clone(),
            extra: String::new(),
            column_type: ty.into(),
            charset: c.charset.clone(),
            nullable: c.name != "id",
            primary: c.name == "id",
        })
        .collect()
}

#[test]
fn only_tables_laid_out_as_the_source_with_its_key_and_no_trigger() {
    let s = schema();
    let layout = RowLayout::of(&s, &target(&s), 0).unwrap();
    assert_eq!(layout.key, vec![0]);
    assert_eq!(layout.columns.iter().map(|c| c.meta).collect::<Vec<_>>(), vec![0, 80, 4]);
    assert!(!layout.columns[0].nullable && layout.columns[1].nullable);

    let changed = |f: &dyn Fn(&mut Vec<TargetColumn>)| {
        let mut t = target(&s);
        f(&mut t);
        RowLayout::of(&s, &t, 0)
    };
    assert_eq!(RowLayout::of(&s, &target(&s), 1), None, "a trigger");
    assert_eq!(changed(&|t| t.swap(1, 2)), None, "another column order");
    assert_eq!(changed(&|t| t[1].charset = Some("latin1".into())), None, "another character set");
    assert_eq!(changed(&|t| t[1].column_type = "varchar(30)".into()), None, "another length");
    assert_eq!(changed(&|t| t[2].extra = "VIRTUAL GENERATED".into()), None, "a generated column");
    assert_eq!(changed(&|t| t.push(t[1].clone())), None, "an extra column");
    assert_eq!(changed(&|t| { t[0].primary = false; t[1].primary = true; }), None, "another primary key");
    assert!(changed(&|t| t[0].extra = "auto_increment".into()).is_some());
}

fn upsert(id: i64, blob: usize) -> Op {
    let after = vec![Value::Int(id), Value::Bytes(Cow::Owned(format!("v{id}").into_bytes())), Value::Bytes(Cow::Owned(vec![7; blob]))];
    Op::Upsert { after, id: ChangeId { txn: BinlogCoord::new("b.000001", 4), row: id as u64 }, fresh: false }
}

#[test]
fn a_run_reads_back_row_by_row_in_statements_under_the_packet_bound() {
    let s = schema();
    let layout = Arc::new(RowLayout::of(&s, &target(&s), 0).unwrap());
    let ops: Vec<Op> = (0..12_000).map(|i| upsert(i, 100)).collect();
    let run = RowEventRun::build(5, ("s", "t"), &layout, &ops, 3, 0..ops.len()).unwrap();
    assert_eq!((run.table, run.range.clone()), (3, 0..ops.len()));
    assert_eq!(run.rows, ops.len());
    assert!(run.queries.len() > 1, "{} queries", run.queries.len());
    let mut parser = Parser::new();
    let mut ids = Vec::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    for (qi, q) in run.queries.iter().enumerate() {
        assert!(q.len() < 2 * crate::mysql::bulk::MAX_PACKET, "query of {} bytes", q.len());
        let statements: Vec<&str> = q.split(";\n").collect();
        assert_eq!(statements.len(), if qi == 0 { 2 } else { 1 }, "the format description leads the first query only");
        for st in statements {
            let events = b64.decode(st.strip_prefix("BINLOG '").unwrap().strip_suffix('\'').unwrap()).unwrap();
            let (mut at, mut last_end) = (0, None);
            while at < events.len() {
                let Status::Complete((event, used)) = parser.parse(&events[at..]).unwrap() else { panic!("partial event") };
                if let EventData::Rows(r) = &event.data {
                    let table = parser.table_for(r).unwrap();
                    for change in r.rows(table).unwrap() {
                        let c = change.unwrap();
                        let before = c.before.unwrap();
                        assert_eq!(before[1..], [Value::Absent, Value::Absent], "the before image holds the key only");
                        assert_eq!(before[0], c.after.as_ref().unwrap()[0]);
                        ids.push(before[0].clone().into_owned());
                    }
                    last_end = Some(r.is_statement_end());
                }
                at += used;
            }
            if qi > 0 || st.len() > 1000 {
                assert_eq!(last_end, Some(true), "a statement's last rows event ends it");
            }
        }
    }
    assert_eq!(ids, (0..12_000).map(Value::Int).collect::<Vec<_>>());

    // One huge row: the usual path.
    let mut ops = ops;
    ops[5] = upsert(5, MAX_ROW + 1);
    assert!(RowEventRun::build(5, ("s", "t"), &layout, &ops, 0, 0..ops.len()).is_none());
    // A run mixing rows the batch inserted (expected absent) with updates: the usual path.
    let mut ops: Vec<Op> = (0..20).map(|i| upsert(i, 10)).collect();
    ops[7] = fresh(7);
    assert!(RowEventRun::build(5, ("s", "t"), &layout, &ops, 0, 0..ops.len()).is_none());
}

fn fresh(id: i64) -> Op {
    let Op::Upsert { after, id, .. } = upsert(id, 10) else { unreachable!() };
    Op::Upsert { after, id, fresh: true }
}

#[test]
fn a_run_of_inserted_rows_is_write_events_with_whole_rows() {
    let s = schema();
    let layout = Arc::new(RowLayout::of(&s, &target(&s), 0).unwrap());
    let ops: Vec<Op> = (0..3_000).map(fresh).collect();
    let run = RowEventRun::build(5, ("s", "t"), &layout, &ops, 0, 0..ops.len()).unwrap();
    let mut parser = Parser::new();
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut rows = Vec::new();
    for q in &run.queries {
        for st in q.split(";\n") {
            let events = b64.decode(st.strip_prefix("BINLOG '").unwrap().strip_suffix('\'').unwrap()).unwrap();
            let mut at = 0;
            while at < events.len() {
                let Status::Complete((event, used)) = parser.parse(&events[at..]).unwrap() else { panic!("partial event") };
                if let EventData::Rows(r) = &event.data {
                    assert_eq!(r.kind, RowsKind::Write);
                    for change in r.rows(parser.table_for(r).unwrap()).unwrap() {
                        let c = change.unwrap();
                        assert!(c.before.is_none());
                        rows.push(c.after.unwrap().into_iter().map(Value::into_owned).collect::<Vec<_>>());
                    }
                }
                at += used;
            }
        }
    }
    let expected: Vec<Vec<Value<'static>>> = ops
        .iter()
        .map(|op| match op {
            Op::Upsert { after, .. } => after.clone(),
            _ => unreachable!(),
        })
        .collect();
    assert_eq!(rows, expected);

    // Wide inserted rows: the bulk execution is cheaper for the target.
    let wide: Vec<Op> = (0..100)
        .map(|i| {
            let Op::Upsert { after, id, .. } = upsert(i, MAX_INSERTED_ROW) else { unreachable!() };
            Op::Upsert { after, id, fresh: true }
        })
        .collect();
    assert!(RowEventRun::build(5, ("s", "t"), &layout, &wide, 0, 0..wide.len()).is_none(), "wide inserts as row events");
    let wide_updates: Vec<Op> = (0..100).map(|i| upsert(i, MAX_INSERTED_ROW)).collect();
    assert!(RowEventRun::build(5, ("s", "t"), &layout, &wide_updates, 0, 0..100).is_some(), "wide updates stay row events");
}

#[test]
fn only_a_strict_slave_exec_mode_keeps_the_upserts_result() {
    assert!(strict(Some("STRICT")));
    assert!(!strict(Some("IDEMPOTENT")));
    assert!(!strict(Some("idempotent")));
    assert!(!strict(None), "an unknown mode is not taken as strict");
}
