//! The event model: [`Event`] = common header + [`EventData`], one variant per event type, each
//! borrowing from the event bytes; and the dispatch from type code to the per-type parser.
//!
//! Invariant: every type code maps to exactly one variant; codes this crate does not decode are
//! handed over raw ([`EventData::Unknown`]), never rejected.

pub mod format;
pub mod group_replication;
pub mod gtid;
pub mod load;
pub mod mariadb_gtid;
pub mod misc;
pub mod payload;
pub mod query;

use std::sync::Arc;

use crate::compress::Limits;
use crate::error::Result;
use crate::event_type::EventType;
use crate::header::EventHeader;
use crate::rows::RowsEvent;
use crate::table_map::TableMap;

use self::format::{Format, FormatDescription};
use self::group_replication::{TransactionContextEvent, ViewChangeEvent};
use self::gtid::{GtidEvent, PreviousGtidsEvent};
use self::load::{CreateFileEvent, ExecuteLoadQueryEvent, FileBlockEvent, LoadEvent};
use self::mariadb_gtid::{GtidListEvent, MariadbGtidEvent};
use self::misc::{
    BinlogCheckpointEvent, HeartbeatEvent, IncidentEvent, IntvarEvent, RandEvent, RotateEvent, RowsQueryEvent,
    StartEncryptionEvent, UserVarEvent, XaPrepareEvent, XidEvent,
};
use self::payload::PayloadEvent;
use self::query::QueryEvent;

/// One binlog event: its header and its decoded body.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// The common header.
    pub header: EventHeader,
    /// The decoded body.
    pub data: EventData<'a>,
}

impl Event<'_> {
    /// The event type.
    pub fn event_type(&self) -> EventType {
        EventType::from_code(self.header.type_code)
    }
}

/// The decoded body of an event.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum EventData<'a> {
    /// FORMAT_DESCRIPTION_EVENT or START_EVENT_V3.
    FormatDescription(FormatDescription<'a>),
    /// QUERY_EVENT or MariaDB QUERY_COMPRESSED_EVENT.
    Query(QueryEvent<'a>),
    /// STOP_EVENT: the server stopped.
    Stop,
    /// ROTATE_EVENT.
    Rotate(RotateEvent<'a>),
    /// INTVAR_EVENT.
    Intvar(IntvarEvent),
    /// RAND_EVENT.
    Rand(RandEvent),
    /// USER_VAR_EVENT.
    UserVar(UserVarEvent<'a>),
    /// XID_EVENT: transaction commit.
    Xid(XidEvent),
    /// TABLE_MAP_EVENT (shared with the parser's cache).
    TableMap(Arc<TableMap>),
    /// Any rows event.
    Rows(RowsEvent<'a>),
    /// ROWS_QUERY_LOG_EVENT or MariaDB ANNOTATE_ROWS_EVENT.
    RowsQuery(RowsQueryEvent<'a>),
    /// GTID_LOG_EVENT, ANONYMOUS_GTID_LOG_EVENT or GTID_TAGGED_LOG_EVENT.
    Gtid(GtidEvent<'a>),
    /// PREVIOUS_GTIDS_LOG_EVENT.
    PreviousGtids(PreviousGtidsEvent<'a>),
    /// TRANSACTION_PAYLOAD_EVENT.
    TransactionPayload(PayloadEvent<'a>),
    /// TRANSACTION_CONTEXT_EVENT.
    TransactionContext(TransactionContextEvent<'a>),
    /// VIEW_CHANGE_EVENT.
    ViewChange(ViewChangeEvent<'a>),
    /// HEARTBEAT_LOG_EVENT (v1 or v2).
    Heartbeat(HeartbeatEvent<'a>),
    /// INCIDENT_EVENT.
    Incident(IncidentEvent<'a>),
    /// XA_PREPARE_LOG_EVENT.
    XaPrepare(XaPrepareEvent<'a>),
    /// LOAD_EVENT or NEW_LOAD_EVENT.
    Load(LoadEvent<'a>),
    /// CREATE_FILE_EVENT.
    CreateFile(CreateFileEvent<'a>),
    /// APPEND_BLOCK_EVENT, BEGIN_LOAD_QUERY_EVENT, EXEC_LOAD_EVENT, DELETE_FILE_EVENT.
    FileBlock(FileBlockEvent<'a>),
    /// EXECUTE_LOAD_QUERY_EVENT.
    ExecuteLoadQuery(ExecuteLoadQueryEvent<'a>),
    /// MariaDB BINLOG_CHECKPOINT_EVENT.
    BinlogCheckpoint(BinlogCheckpointEvent<'a>),
    /// MariaDB GTID_EVENT.
    MariadbGtid(MariadbGtidEvent<'a>),
    /// MariaDB GTID_LIST_EVENT.
    GtidList(GtidListEvent),
    /// MariaDB START_ENCRYPTION_EVENT.
    StartEncryption(StartEncryptionEvent<'a>),
    /// IGNORABLE_LOG_EVENT, SLAVE_EVENT, MariaDB PARTIAL_ROW_DATA and unknown types: the raw body.
    Unknown(&'a [u8]),
}

/// Decodes an event body (header and checksum stripped) of type `t`.
pub(crate) fn parse_body<'a>(
    t: EventType,
    frame: &'a [u8],
    body: &'a [u8],
    format: &Format,
    limits: &Limits,
) -> Result<EventData<'a>> {
    use EventType as T;
    let phl = format.post_header_len(t);
    Ok(match t {
        T::FormatDescription => EventData::FormatDescription(FormatDescription::parse(frame)?),
        T::StartV3 => EventData::FormatDescription(FormatDescription::parse_start_v3(frame, format.header_len)?),
        T::Query => EventData::Query(QueryEvent::parse(body, phl, false, limits)?),
        T::QueryCompressed => EventData::Query(QueryEvent::parse(body, phl, true, limits)?),
        T::Stop => EventData::Stop,
        T::Rotate => EventData::Rotate(RotateEvent::parse(body, phl)?),
        T::Intvar => EventData::Intvar(IntvarEvent::parse(body)?),
        T::Rand => EventData::Rand(RandEvent::parse(body)?),
        T::UserVar => EventData::UserVar(UserVarEvent::parse(body)?),
        T::Xid => EventData::Xid(XidEvent::parse(body)?),
        T::TableMap => EventData::TableMap(Arc::new(TableMap::parse(body, phl)?)),
        T::RowsQuery => EventData::RowsQuery(RowsQueryEvent::parse_mysql(body)?),
        T::AnnotateRows => EventData::RowsQuery(RowsQueryEvent::parse_annotate(body)?),
        T::Gtid | T::AnonymousGtid => EventData::Gtid(GtidEvent::parse(body)?),
        T::GtidTagged => EventData::Gtid(GtidEvent::parse_tagged(body)?),
        T::PreviousGtids => EventData::PreviousGtids(PreviousGtidsEvent::parse(body)?),
        T::TransactionPayload => EventData::TransactionPayload(PayloadEvent::parse(body)?),
        T::TransactionContext => EventData::TransactionContext(TransactionContextEvent::parse(body, phl)?),
        T::ViewChange => EventData::ViewChange(ViewChangeEvent::parse(body, phl)?),
        T::Heartbeat => EventData::Heartbeat(HeartbeatEvent::parse_v1(body)?),
        T::HeartbeatV2 => EventData::Heartbeat(HeartbeatEvent::parse_v2(body)?),
        T::Incident => EventData::Incident(IncidentEvent::parse(body)?),
        T::XaPrepare => EventData::XaPrepare(XaPrepareEvent::parse(body)?),
        T::Load => EventData::Load(LoadEvent::parse(body, phl, false)?),
        T::NewLoad => EventData::Load(LoadEvent::parse(body, phl, true)?),
        T::CreateFile => {
            EventData::CreateFile(CreateFileEvent::parse(body, format.post_header_len(T::Load), phl)?)
        }
        T::AppendBlock | T::BeginLoadQuery | T::ExecLoad | T::DeleteFile => {
            EventData::FileBlock(FileBlockEvent::parse(body, phl)?)
        }
        T::ExecuteLoadQuery => EventData::ExecuteLoadQuery(ExecuteLoadQueryEvent::parse(body, phl, limits)?),
        T::BinlogCheckpoint => EventData::BinlogCheckpoint(BinlogCheckpointEvent::parse(body)?),
        T::MariadbGtid => EventData::MariadbGtid(MariadbGtidEvent::parse(body)?),
        T::GtidList => EventData::GtidList(GtidListEvent::parse(body)?),
        T::StartEncryption => EventData::StartEncryption(StartEncryptionEvent::parse(body)?),
        other => match other.rows_format() {
            Some(f) => EventData::Rows(RowsEvent::parse(body, phl, f, limits)?),
            None => EventData::Unknown(body),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_stay_small_to_move() {
        // Every parsed event is moved a few times on its way out of `Parser::parse`; a large
        // variant (QueryEvent once held 280 bytes of decoded status variables) makes every event
        // pay for it. The largest variant today is the MySQL GTID event.
        assert!(std::mem::size_of::<EventData<'_>>() <= 168, "EventData is {} bytes", std::mem::size_of::<EventData<'_>>());
        assert!(std::mem::size_of::<QueryEvent<'_>>() <= 80);
    }
}
