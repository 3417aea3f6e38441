//! Turning written column definitions into model columns: character sets and collations, and the
//! types that depend on them.
//!
//! Invariants (all checked against MariaDB 10.11):
//! - a text column without CHARACTER SET or COLLATE takes the table's default character set and
//!   collation; with only CHARACTER SET it takes that set's default collation; with only COLLATE
//!   the collation's set; the BINARY attribute means the set's `_bin` collation;
//! - CHARACTER SET binary turns CHAR/VARCHAR/TEXT into BINARY/VARBINARY/BLOB (ENUM and SET stay,
//!   with the binary set);
//! - TEXT(n)/BLOB(n) become the smallest TEXT/BLOB type holding n characters; a VARCHAR longer
//!   than the row limit becomes the TEXT type holding it (non-strict mode does that; strict mode
//!   rejects it, so it never reaches the binlog);
//! - MariaDB's JSON is LONGTEXT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
//! - an unknown character set is an error, never a guess.

use crate::schema::charset;
use crate::schema::ddl::ast::{CharsetName, CharsetOptions, ColumnDef, TypeSpec};
use crate::schema::ddl::settings::Settings;
use crate::schema::ddl::types::sized_lob;
use crate::schema::ddl::DdlError;
use crate::schema::model::Column;
use crate::schema::sql_type::SqlType;

/// A character set with its collation, both normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Charset {
    pub charset: String,
    pub collation: String,
}

/// The longest VARCHAR/VARBINARY in bytes before the server turns it into a TEXT/BLOB type.
fn varchar_byte_limit(settings: &Settings) -> u64 {
    if settings.is_mariadb() {
        65_532
    } else {
        65_535
    }
}

fn unsupported_charset(cs: &str) -> DdlError {
    DdlError::Unsupported(format!("unknown character set {cs}"))
}

/// Bytes per character of a (normalised) character set.
pub(crate) fn mbmaxlen(cs: &str) -> Result<u32, DdlError> {
    charset::mbmaxlen(cs).ok_or_else(|| unsupported_charset(cs))
}

fn default_collation(settings: &Settings, cs: &str) -> Result<String, DdlError> {
    settings
        .default_collation(cs)
        .ok_or_else(|| unsupported_charset(cs))
}

fn bin_collation(cs: &str) -> String {
    if cs == "binary" {
        "binary".to_owned()
    } else {
        format!("{cs}_bin")
    }
}

/// A collation's full name and character set: `utf8mb4_bin` → utf8mb4; a MariaDB 11 short name
/// (`uca1400_ai_ci`) is completed with `context`, the character set it is used with.
fn collation_charset(collation: &str, context: Option<&str>) -> Result<Charset, DdlError> {
    if let Some(cs) = charset::charset_of_collation(collation) {
        return Ok(Charset {
            charset: cs.to_owned(),
            collation: collation.to_owned(),
        });
    }
    match context {
        Some(cs) => Ok(Charset {
            charset: cs.to_owned(),
            collation: format!("{cs}_{collation}"),
        }),
        None => Err(DdlError::Unsupported(format!(
            "collation {collation} of unknown character set"
        ))),
    }
}

/// A table's (or database's) default character set from its options; `inherited` is the
/// database's (or server's) default, `None` if unknown.
pub(crate) fn table_charset(
    opts: &CharsetOptions,
    inherited: Option<&Charset>,
    settings: &Settings,
    unknown: impl Fn() -> DdlError,
) -> Result<Charset, DdlError> {
    let named = match &opts.charset {
        Some(CharsetName::Named(cs)) => Some(cs.clone()),
        Some(CharsetName::Default) => Some(inherited.ok_or_else(&unknown)?.charset.clone()),
        None => None,
    };
    match (named, &opts.collation) {
        (Some(cs), Some(coll)) => collation_charset(coll, Some(&cs)),
        (Some(cs), None) => Ok(Charset {
            collation: default_collation(settings, &cs)?,
            charset: cs,
        }),
        (None, Some(coll)) => collation_charset(coll, inherited.map(|c| c.charset.as_str())),
        (None, None) => inherited.cloned().ok_or_else(unknown),
    }
}

/// The character set of a text column declared with `ty` in a table whose default is `table`
/// (`None` when unknown: an error if the column needs it).
fn column_charset(
    ty: &TypeSpec,
    table: Option<&Charset>,
    settings: &Settings,
) -> Result<Charset, DdlError> {
    let table = || {
        table.ok_or_else(|| {
            DdlError::Unsupported("the table's default character set is unknown".into())
        })
    };
    match (&ty.charset, &ty.collation) {
        (Some(cs), Some(coll)) => collation_charset(coll, Some(cs)),
        (Some(cs), None) if ty.binary => Ok(Charset {
            charset: cs.clone(),
            collation: bin_collation(cs),
        }),
        (Some(cs), None) => Ok(Charset {
            charset: cs.clone(),
            collation: default_collation(settings, cs)?,
        }),
        (None, Some(coll)) if charset::charset_of_collation(coll).is_some() => {
            collation_charset(coll, None)
        }
        (None, Some(coll)) => collation_charset(coll, Some(&table()?.charset)),
        (None, None) if ty.binary => {
            let cs = &table()?.charset;
            Ok(Charset {
                charset: cs.clone(),
                collation: bin_collation(cs),
            })
        }
        (None, None) => Ok(table()?.clone()),
    }
}

/// The binary-string type of a text type (CHARACTER SET binary).
fn binary_counterpart(ty: SqlType) -> SqlType {
    match ty {
        SqlType::Char(n) => SqlType::Binary(n),
        SqlType::VarChar(n) => SqlType::VarBinary(n),
        SqlType::TinyText => SqlType::TinyBlob,
        SqlType::Text => SqlType::Blob,
        SqlType::MediumText => SqlType::MediumBlob,
        SqlType::LongText => SqlType::LongBlob,
        other => other,
    }
}

/// VARCHAR/VARBINARY longer than the row limit become the TEXT/BLOB type that holds them.
pub(crate) fn fit_varchar(ty: SqlType, mbmaxlen: u32, settings: &Settings) -> SqlType {
    let (n, blob) = match ty {
        SqlType::VarChar(n) => (n, false),
        SqlType::VarBinary(n) => (n, true),
        other => return other,
    };
    let bytes = u64::from(n) * u64::from(if blob { 1 } else { mbmaxlen });
    if bytes > varchar_byte_limit(settings) {
        sized_lob(bytes, blob)
    } else {
        ty
    }
}

/// Sets a column's character set and adjusts its type to it (binary set, over-long VARCHAR).
pub(crate) fn set_column_charset(
    column: &mut Column,
    cs: Charset,
    settings: &Settings,
) -> Result<(), DdlError> {
    let width = mbmaxlen(&cs.charset)?;
    if cs.charset == "binary" && !matches!(column.sql_type, SqlType::Enum(_) | SqlType::Set(_)) {
        column.sql_type = binary_counterpart(column.sql_type.clone());
        column.charset = None;
        column.collation = None;
    } else {
        column.charset = Some(cs.charset);
        column.collation = Some(cs.collation);
    }
    column.sql_type = fit_varchar(column.sql_type.clone(), width, settings);
    Ok(())
}

/// The model column for a written definition in a table whose default character set is `table`
/// (`None` when unknown).
pub(crate) fn column(
    def: &ColumnDef,
    table: Option<&Charset>,
    settings: &Settings,
) -> Result<Column, DdlError> {
    let ty = &def.ty;
    let timestamp_not_null = !settings.explicit_defaults_for_timestamp
        && matches!(ty.sql_type, SqlType::Timestamp(_))
        && !def.explicit_null;
    let mut column = Column {
        name: def.name.clone(),
        sql_type: ty.sql_type.clone(),
        nullable: !(def.not_null || timestamp_not_null),
        unsigned: ty.unsigned,
        charset: None,
        collation: None,
        generated: def.generated,
        invisible: def.invisible,
        auto_increment: def.auto_increment,
        default: def.default.clone(),
    };
    match (&ty.sql_type, settings.is_mariadb()) {
        (SqlType::Json, true) => {
            column.sql_type = SqlType::LongText;
            column.charset = Some("utf8mb4".into());
            column.collation = Some("utf8mb4_bin".into());
            return Ok(column);
        }
        (SqlType::Vector(_), true) => {
            return Err(DdlError::Unsupported("MariaDB VECTOR columns".into()));
        }
        _ => {}
    }
    let is_text = ty.sql_type.is_text();
    let cs = if is_text {
        Some(column_charset(ty, table, settings)?)
    } else {
        None
    };
    let width = match &cs {
        Some(c) => mbmaxlen(&c.charset)?,
        None => 1,
    };
    if let Some(n) = ty.text_length {
        let blob = matches!(ty.sql_type, SqlType::Blob);
        column.sql_type = sized_lob(
            n.saturating_mul(u64::from(if blob { 1 } else { width })),
            blob,
        );
    }
    match cs {
        Some(cs) => set_column_charset(&mut column, cs, settings)?,
        None => column.sql_type = fit_varchar(column.sql_type, 1, settings),
    }
    Ok(column)
}

/// CONVERT TO CHARACTER SET on a column kept from the old table: TEXT types grow (or shrink) so
/// that they hold as many characters as before, as the server does.
pub(crate) fn convert_kept_column(
    column: &mut Column,
    cs: &Charset,
    settings: &Settings,
) -> Result<(), DdlError> {
    let old_width = match &column.charset {
        Some(old) => mbmaxlen(old)?,
        None => return Ok(()),
    };
    let max_bytes: u64 = match column.sql_type {
        SqlType::TinyText => 255,
        SqlType::Text => 65_535,
        SqlType::MediumText => 16_777_215,
        SqlType::LongText => 4_294_967_295,
        _ => 0,
    };
    if max_bytes > 0 {
        let chars = max_bytes / u64::from(old_width);
        let new_bytes = chars * u64::from(mbmaxlen(&cs.charset)?);
        column.sql_type = sized_lob(new_bytes.max(1), false);
    }
    set_column_charset(column, cs.clone(), settings)
}

/// CONVERT TO CHARACTER SET on any column: every column with a non-binary character set.
pub(crate) fn convert_column(
    column: &mut Column,
    cs: &Charset,
    settings: &Settings,
) -> Result<(), DdlError> {
    if column.charset.as_deref().is_some_and(|c| c != "binary") {
        set_column_charset(column, cs.clone(), settings)?;
    }
    Ok(())
}
