//! Event type codes of MySQL (0–42) and MariaDB (160–172), with their canonical names.

macro_rules! event_types {
    ($($variant:ident = $code:literal => $name:literal,)*) => {
        /// A binlog event type. Unknown codes are kept as [`EventType::Unknown`].
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum EventType {
            $(
                #[doc = concat!("`", $name, "` (", stringify!($code), ")")]
                $variant,
            )*
            /// A code this parser does not know; its event is handed over raw.
            Unknown(u8),
        }

        impl EventType {
            /// The type for a type code byte.
            pub const fn from_code(code: u8) -> EventType {
                match code {
                    $($code => EventType::$variant,)*
                    other => EventType::Unknown(other),
                }
            }

            /// The type code byte.
            pub const fn code(self) -> u8 {
                match self {
                    $(EventType::$variant => $code,)*
                    EventType::Unknown(c) => c,
                }
            }

            /// The server's name for this type, e.g. `WRITE_ROWS_EVENT`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(EventType::$variant => $name,)*
                    EventType::Unknown(_) => "UNKNOWN_EVENT",
                }
            }
        }
    };
}

event_types! {
    StartV3 = 1 => "START_EVENT_V3",
    Query = 2 => "QUERY_EVENT",
    Stop = 3 => "STOP_EVENT",
    Rotate = 4 => "ROTATE_EVENT",
    Intvar = 5 => "INTVAR_EVENT",
    Load = 6 => "LOAD_EVENT",
    Slave = 7 => "SLAVE_EVENT",
    CreateFile = 8 => "CREATE_FILE_EVENT",
    AppendBlock = 9 => "APPEND_BLOCK_EVENT",
    ExecLoad = 10 => "EXEC_LOAD_EVENT",
    DeleteFile = 11 => "DELETE_FILE_EVENT",
    NewLoad = 12 => "NEW_LOAD_EVENT",
    Rand = 13 => "RAND_EVENT",
    UserVar = 14 => "USER_VAR_EVENT",
    FormatDescription = 15 => "FORMAT_DESCRIPTION_EVENT",
    Xid = 16 => "XID_EVENT",
    BeginLoadQuery = 17 => "BEGIN_LOAD_QUERY_EVENT",
    ExecuteLoadQuery = 18 => "EXECUTE_LOAD_QUERY_EVENT",
    TableMap = 19 => "TABLE_MAP_EVENT",
    PreGaWriteRows = 20 => "PRE_GA_WRITE_ROWS_EVENT",
    PreGaUpdateRows = 21 => "PRE_GA_UPDATE_ROWS_EVENT",
    PreGaDeleteRows = 22 => "PRE_GA_DELETE_ROWS_EVENT",
    WriteRowsV1 = 23 => "WRITE_ROWS_EVENT_V1",
    UpdateRowsV1 = 24 => "UPDATE_ROWS_EVENT_V1",
    DeleteRowsV1 = 25 => "DELETE_ROWS_EVENT_V1",
    Incident = 26 => "INCIDENT_EVENT",
    Heartbeat = 27 => "HEARTBEAT_LOG_EVENT",
    Ignorable = 28 => "IGNORABLE_LOG_EVENT",
    RowsQuery = 29 => "ROWS_QUERY_LOG_EVENT",
    WriteRows = 30 => "WRITE_ROWS_EVENT",
    UpdateRows = 31 => "UPDATE_ROWS_EVENT",
    DeleteRows = 32 => "DELETE_ROWS_EVENT",
    Gtid = 33 => "GTID_LOG_EVENT",
    AnonymousGtid = 34 => "ANONYMOUS_GTID_LOG_EVENT",
    PreviousGtids = 35 => "PREVIOUS_GTIDS_LOG_EVENT",
    TransactionContext = 36 => "TRANSACTION_CONTEXT_EVENT",
    ViewChange = 37 => "VIEW_CHANGE_EVENT",
    XaPrepare = 38 => "XA_PREPARE_LOG_EVENT",
    PartialUpdateRows = 39 => "PARTIAL_UPDATE_ROWS_EVENT",
    TransactionPayload = 40 => "TRANSACTION_PAYLOAD_EVENT",
    HeartbeatV2 = 41 => "HEARTBEAT_LOG_EVENT_V2",
    GtidTagged = 42 => "GTID_TAGGED_LOG_EVENT",
    AnnotateRows = 160 => "ANNOTATE_ROWS_EVENT",
    BinlogCheckpoint = 161 => "BINLOG_CHECKPOINT_EVENT",
    MariadbGtid = 162 => "GTID_EVENT",
    GtidList = 163 => "GTID_LIST_EVENT",
    StartEncryption = 164 => "START_ENCRYPTION_EVENT",
    QueryCompressed = 165 => "QUERY_COMPRESSED_EVENT",
    WriteRowsCompressedV1 = 166 => "WRITE_ROWS_COMPRESSED_EVENT_V1",
    UpdateRowsCompressedV1 = 167 => "UPDATE_ROWS_COMPRESSED_EVENT_V1",
    DeleteRowsCompressedV1 = 168 => "DELETE_ROWS_COMPRESSED_EVENT_V1",
    WriteRowsCompressed = 169 => "WRITE_ROWS_COMPRESSED_EVENT",
    UpdateRowsCompressed = 170 => "UPDATE_ROWS_COMPRESSED_EVENT",
    DeleteRowsCompressed = 171 => "DELETE_ROWS_COMPRESSED_EVENT",
    PartialRowData = 172 => "PARTIAL_ROW_DATA_EVENT",
}

/// What a rows event does to its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowsKind {
    /// INSERT: after images only.
    Write,
    /// UPDATE: before and after images.
    Update,
    /// DELETE: before images only.
    Delete,
}

/// How a rows event is encoded, derived from its type code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RowsFormat {
    pub kind: RowsKind,
    /// 0 (pre-GA 5.1), 1, or 2 (with extra data).
    pub version: u8,
    /// MariaDB zlib-compressed rows body.
    pub compressed: bool,
    /// MySQL PARTIAL_UPDATE_ROWS (JSON diffs in after images).
    pub partial: bool,
}

impl EventType {
    /// For rows events, how they are encoded.
    pub(crate) fn rows_format(self) -> Option<RowsFormat> {
        use EventType::*;
        use RowsKind::*;
        let f = |kind, version, compressed, partial| Some(RowsFormat { kind, version, compressed, partial });
        match self {
            PreGaWriteRows => f(Write, 0, false, false),
            PreGaUpdateRows => f(Update, 0, false, false),
            PreGaDeleteRows => f(Delete, 0, false, false),
            WriteRowsV1 => f(Write, 1, false, false),
            UpdateRowsV1 => f(Update, 1, false, false),
            DeleteRowsV1 => f(Delete, 1, false, false),
            WriteRows => f(Write, 2, false, false),
            UpdateRows => f(Update, 2, false, false),
            DeleteRows => f(Delete, 2, false, false),
            PartialUpdateRows => f(Update, 2, false, true),
            WriteRowsCompressedV1 => f(Write, 1, true, false),
            UpdateRowsCompressedV1 => f(Update, 1, true, false),
            DeleteRowsCompressedV1 => f(Delete, 1, true, false),
            WriteRowsCompressed => f(Write, 2, true, false),
            UpdateRowsCompressed => f(Update, 2, true, false),
            DeleteRowsCompressed => f(Delete, 2, true, false),
            _ => None,
        }
    }

    /// True for every kind of rows event.
    pub fn is_rows(self) -> bool {
        self.rows_format().is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip() {
        for code in 0..=255u8 {
            assert_eq!(EventType::from_code(code).code(), code);
        }
        assert_eq!(EventType::from_code(30).name(), "WRITE_ROWS_EVENT");
        assert_eq!(EventType::from_code(99), EventType::Unknown(99));
    }
}
