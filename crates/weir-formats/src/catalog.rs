//! The Glue Data Catalog subset weir keeps: databases and their tables, in weir's
//! [`MetadataStore`] (the same redb file as the streams), so a schema survives restarts and
//! moves with the metadata store when it moves to PostgreSQL.
//!
//! Layout: table `glue-databases` keyed by database name; table `glue-tables/<database>` keyed
//! by table name, so listing one database's tables is one prefix scan. Values are the Glue JSON
//! shapes of [`crate::model`]. Names are stored lowercased, as Glue stores them. Every write is
//! compare-and-set: creating expects the key absent (a lost race is AlreadyExists, like AWS),
//! an update expects the version it read.
//!
//! A table's `VersionId` starts at "0" and grows by one per UpdateTable, as in AWS; an
//! UpdateTable naming a stale `VersionId` is a ConcurrentModificationException.

use crate::model::{Database, Table};
use serde_json::json;
use std::sync::Arc;
use weir_core::{Clock, SystemClock};
use weir_storage::{Expect, MetaOp, MetadataStore};

const DATABASES: &str = "glue-databases";
const TABLES_PREFIX: &str = "glue-tables/";

/// What a catalog operation can answer; the front end maps each to the Glue error of that name.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CatalogError {
    #[error("{0}")]
    EntityNotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("{0}")]
    ConcurrentModification(String),
    #[error("{0}")]
    Internal(String),
}

pub type CatalogResult<T> = std::result::Result<T, CatalogError>;

impl From<weir_storage::Error> for CatalogError {
    fn from(e: weir_storage::Error) -> Self {
        CatalogError::Internal(e.to_string())
    }
}

/// Glue databases and tables, persisted in the metadata store. Cheap to share behind an `Arc`.
pub struct Catalog {
    meta: Arc<dyn MetadataStore>,
    clock: Arc<dyn Clock>,
    account_id: String,
}

fn tables_of(db: &str) -> String {
    format!("{TABLES_PREFIX}{db}")
}

fn db_not_found(name: &str) -> CatalogError {
    CatalogError::EntityNotFound(format!("Database {name} not found."))
}

fn table_not_found(name: &str) -> CatalogError {
    CatalogError::EntityNotFound(format!("Table {name} not found."))
}

fn parse<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> CatalogResult<T> {
    serde_json::from_slice(bytes)
        .map_err(|e| CatalogError::Internal(format!("corrupt Glue catalog record: {e}")))
}

fn to_json<T: serde::Serialize>(v: &T) -> CatalogResult<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| CatalogError::Internal(e.to_string()))
}

/// Glue names: 1..=255 characters, single-line (the model's pattern excludes control characters
/// other than tab).
fn check_name(what: &str, name: &str) -> CatalogResult<String> {
    let n = name.chars().count();
    if n == 0 || n > 255 || name.chars().any(|c| c.is_control() && c != '\t') {
        return Err(CatalogError::InvalidInput(format!(
            "{what} name is not valid: '{name}'"
        )));
    }
    Ok(name.to_lowercase())
}

impl Catalog {
    /// The catalog over `meta`, with the system clock and the default account.
    pub fn open(meta: Arc<dyn MetadataStore>) -> Result<Self, String> {
        Self::open_with(meta, Arc::new(SystemClock), "000000000000")
    }

    /// The catalog with an explicit clock (tests) and account id (the CatalogId it reports).
    pub fn open_with(
        meta: Arc<dyn MetadataStore>,
        clock: Arc<dyn Clock>,
        account_id: &str,
    ) -> Result<Self, String> {
        // Reading once proves the store answers and its records parse.
        let dbs = meta.list(DATABASES).map_err(|e| e.to_string())?;
        for (_, v) in dbs {
            parse::<Database>(&v.value).map_err(|e| e.to_string())?;
        }
        Ok(Self {
            meta,
            clock,
            account_id: account_id.to_string(),
        })
    }

    pub fn account_id(&self) -> &str {
        &self.account_id
    }

    fn now(&self) -> f64 {
        self.clock.now_millis() as f64 / 1000.0
    }

    /// The resolved table for format conversion; None when the database or table is missing.
    pub fn table(&self, database: &str, table: &str) -> Option<Table> {
        self.get_table(database, table).ok()
    }

    pub fn create_database(&self, mut input: Database) -> CatalogResult<Database> {
        let name = check_name("Database", &input.name)?;
        input.name = name.clone();
        input.create_time = Some(self.now());
        input.catalog_id = Some(self.account_id.clone());
        if input.create_table_default_permissions.is_none() {
            // What Glue reports for a database created without Lake Formation settings.
            input.create_table_default_permissions = Some(json!([{
                "Principal": {"DataLakePrincipalIdentifier": "IAM_ALLOWED_PRINCIPALS"},
                "Permissions": ["ALL"]
            }]));
        }
        let put = MetaOp::Put {
            table: DATABASES.into(),
            key: name,
            value: to_json(&input)?,
            expect: Expect::Absent,
        };
        match self.meta.transact(vec![put]) {
            Ok(()) => Ok(input),
            Err(weir_storage::Error::Conflict { .. }) => Err(CatalogError::AlreadyExists(
                "Database already exists.".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    fn database_versioned(&self, name: &str) -> CatalogResult<(Database, u64)> {
        let key = name.to_lowercase();
        match self.meta.get(DATABASES, &key)? {
            Some(v) => Ok((parse(&v.value)?, v.version)),
            None => Err(db_not_found(name)),
        }
    }

    pub fn get_database(&self, name: &str) -> CatalogResult<Database> {
        Ok(self.database_versioned(name)?.0)
    }

    /// Every database, in name order.
    pub fn databases(&self) -> CatalogResult<Vec<Database>> {
        self.meta
            .list(DATABASES)?
            .into_iter()
            .map(|(_, v)| parse(&v.value))
            .collect()
    }

    /// Replaces a database's definition (its name, CreateTime and CatalogId stay).
    pub fn update_database(&self, name: &str, mut input: Database) -> CatalogResult<Database> {
        let (old, version) = self.database_versioned(name)?;
        input.name = old.name.clone();
        input.create_time = old.create_time;
        input.catalog_id = old.catalog_id.clone();
        if input.create_table_default_permissions.is_none() {
            input.create_table_default_permissions = old.create_table_default_permissions;
        }
        let put = MetaOp::Put {
            table: DATABASES.into(),
            key: old.name,
            value: to_json(&input)?,
            expect: Expect::Version(version),
        };
        self.transact_or_concurrent(vec![put], "Update database")?;
        Ok(input)
    }

    /// Removes a database and every table in it, in one transaction.
    pub fn delete_database(&self, name: &str) -> CatalogResult<()> {
        let (db, version) = self.database_versioned(name)?;
        let tables = tables_of(&db.name);
        let mut ops: Vec<MetaOp> = self
            .meta
            .list(&tables)?
            .into_iter()
            .map(|(key, v)| MetaOp::Delete {
                table: tables.clone(),
                key,
                expect: Expect::Version(v.version),
            })
            .collect();
        ops.push(MetaOp::Delete {
            table: DATABASES.into(),
            key: db.name,
            expect: Expect::Version(version),
        });
        self.transact_or_concurrent(ops, "Delete database")
    }

    pub fn create_table(&self, database: &str, mut input: Table) -> CatalogResult<Table> {
        let db = self.get_database(database)?;
        let name = check_name("Table", &input.name)?;
        let now = self.now();
        input.name = name.clone();
        input.database_name = Some(db.name.clone());
        input.create_time = Some(now);
        input.update_time = Some(now);
        input.retention.get_or_insert(0);
        input.catalog_id = Some(self.account_id.clone());
        input.version_id = Some("0".into());
        input.is_registered_with_lake_formation = Some(false);
        input.created_by = Some(format!("arn:aws:iam::{}:root", self.account_id));
        let put = MetaOp::Put {
            table: tables_of(&db.name),
            key: name,
            value: to_json(&input)?,
            expect: Expect::Absent,
        };
        match self.meta.transact(vec![put]) {
            Ok(()) => Ok(input),
            Err(weir_storage::Error::Conflict { .. }) => {
                Err(CatalogError::AlreadyExists("Table already exists.".into()))
            }
            Err(e) => Err(e.into()),
        }
    }

    fn table_versioned(&self, database: &str, name: &str) -> CatalogResult<(Table, u64)> {
        let db = self.get_database(database)?;
        match self.meta.get(&tables_of(&db.name), &name.to_lowercase())? {
            Some(v) => Ok((parse(&v.value)?, v.version)),
            None => Err(table_not_found(name)),
        }
    }

    pub fn get_table(&self, database: &str, name: &str) -> CatalogResult<Table> {
        Ok(self.table_versioned(database, name)?.0)
    }

    /// The tables of one database in name order, those matching `expression` only (Glue's
    /// filter: `*` matches any run of characters, `|` separates alternatives, case-insensitive).
    pub fn tables(&self, database: &str, expression: Option<&str>) -> CatalogResult<Vec<Table>> {
        let db = self.get_database(database)?;
        let mut out = Vec::new();
        for (key, v) in self.meta.list(&tables_of(&db.name))? {
            if expression.is_some_and(|e| !matches_expression(e, &key)) {
                continue;
            }
            out.push(parse(&v.value)?);
        }
        Ok(out)
    }

    /// Replaces a table's definition. `version_id`, when given, must be the current VersionId.
    pub fn update_table(
        &self,
        database: &str,
        mut input: Table,
        version_id: Option<&str>,
    ) -> CatalogResult<Table> {
        let (old, version) = self.table_versioned(database, &input.name)?;
        let current = old.version_id.clone().unwrap_or_else(|| "0".into());
        if version_id.is_some_and(|v| v != current) {
            return Err(concurrent("Update table"));
        }
        let next = current.parse::<u64>().unwrap_or(0).saturating_add(1);
        input.name = old.name.clone();
        input.database_name = old.database_name.clone();
        input.create_time = old.create_time;
        input.update_time = Some(self.now());
        input.retention.get_or_insert(0);
        input.catalog_id = old.catalog_id.clone();
        input.version_id = Some(next.to_string());
        input.is_registered_with_lake_formation = old.is_registered_with_lake_formation;
        input.created_by = old.created_by.clone();
        let db = old.database_name.unwrap_or_else(|| database.to_lowercase());
        let put = MetaOp::Put {
            table: tables_of(&db),
            key: old.name,
            value: to_json(&input)?,
            expect: Expect::Version(version),
        };
        self.transact_or_concurrent(vec![put], "Update table")?;
        Ok(input)
    }

    pub fn delete_table(&self, database: &str, name: &str) -> CatalogResult<()> {
        let (table, version) = self.table_versioned(database, name)?;
        let db = table
            .database_name
            .unwrap_or_else(|| database.to_lowercase());
        let op = MetaOp::Delete {
            table: tables_of(&db),
            key: table.name,
            expect: Expect::Version(version),
        };
        self.transact_or_concurrent(vec![op], "Delete table")
    }

    fn transact_or_concurrent(&self, ops: Vec<MetaOp>, what: &str) -> CatalogResult<()> {
        match self.meta.transact(ops) {
            Ok(()) => Ok(()),
            Err(weir_storage::Error::Conflict { .. }) => Err(concurrent(what)),
            Err(e) => Err(e.into()),
        }
    }
}

fn concurrent(what: &str) -> CatalogError {
    CatalogError::ConcurrentModification(format!("{what} failed due to concurrent modifications."))
}

/// Glue's GetTables `Expression`: alternatives separated by `|`, each a pattern where `*`
/// matches any run of characters (and `.*`, the regex spelling users also write, the same).
pub fn matches_expression(expression: &str, name: &str) -> bool {
    let name = name.to_lowercase();
    expression.split('|').any(|alt| {
        let alt = alt.trim().to_lowercase().replace(".*", "*");
        glob(alt.as_bytes(), name.as_bytes())
    })
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    let (mut pi, mut si, mut star, mut mark) = (0, 0, None, 0);
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = si;
            pi += 1;
        } else if pi < p.len() && p[pi] == s[si] {
            pi += 1;
            si += 1;
        } else if let Some(st) = star {
            pi = st + 1;
            mark += 1;
            si = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;
    use weir_core::ManualClock;
    use weir_storage::MemoryMetadata;

    fn catalog() -> (Catalog, Arc<ManualClock>) {
        let clock = Arc::new(ManualClock::new(1_700_000_000_000));
        let c = Catalog::open_with(
            Arc::new(MemoryMetadata::default()),
            clock.clone(),
            "123456789012",
        )
        .unwrap();
        (c, clock)
    }

    fn db(name: &str) -> Database {
        Database {
            name: name.into(),
            ..Database::default()
        }
    }

    #[test]
    fn databases_and_tables_with_glue_errors() {
        let (c, clock) = catalog();
        assert_eq!(
            c.get_database("nope").unwrap_err(),
            CatalogError::EntityNotFound("Database nope not found.".into())
        );
        let d = c.create_database(db("Sales")).unwrap();
        assert_eq!(d.name, "sales");
        assert_eq!(d.create_time, Some(1_700_000_000.0));
        assert_eq!(d.catalog_id.as_deref(), Some("123456789012"));
        assert_eq!(
            c.create_database(db("sales")).unwrap_err(),
            CatalogError::AlreadyExists("Database already exists.".into())
        );
        let t = Table::from_column_spec("Orders", "id:bigint,amount:decimal(10,2)").unwrap();
        assert_eq!(
            c.create_table("missing", t.clone()).unwrap_err(),
            CatalogError::EntityNotFound("Database missing not found.".into())
        );
        let created = c.create_table("sales", t.clone()).unwrap();
        assert_eq!(created.version_id.as_deref(), Some("0"));
        assert_eq!(created.database_name.as_deref(), Some("sales"));
        assert_eq!(
            c.create_table("sales", t.clone()).unwrap_err(),
            CatalogError::AlreadyExists("Table already exists.".into())
        );
        assert_eq!(c.table("SALES", "orders").unwrap().columns().len(), 2);
        assert_eq!(
            c.get_table("sales", "x").unwrap_err(),
            CatalogError::EntityNotFound("Table x not found.".into())
        );

        clock.advance(5_000);
        let mut changed = t.clone();
        changed.description = Some("v1".into());
        let updated = c.update_table("sales", changed.clone(), Some("0")).unwrap();
        assert_eq!(updated.version_id.as_deref(), Some("1"));
        assert_eq!(updated.create_time, Some(1_700_000_000.0));
        assert_eq!(updated.update_time, Some(1_700_000_005.0));
        assert_eq!(
            c.update_table("sales", changed, Some("0")).unwrap_err(),
            CatalogError::ConcurrentModification(
                "Update table failed due to concurrent modifications.".into()
            )
        );

        c.create_table(
            "sales",
            Table::from_column_spec("returns", "a:int").unwrap(),
        )
        .unwrap();
        let names = |e: Option<&str>| -> Vec<String> {
            c.tables("sales", e)
                .unwrap()
                .into_iter()
                .map(|t| t.name)
                .collect()
        };
        assert_eq!(names(None), ["orders", "returns"]);
        assert_eq!(names(Some("ret*")), ["returns"]);
        assert_eq!(names(Some("x|ORD.*")), ["orders"]);

        c.delete_table("sales", "orders").unwrap();
        assert!(c.table("sales", "orders").is_none());
        c.delete_database("sales").unwrap();
        assert!(c.databases().unwrap().is_empty());
        // The database's tables went with it.
        c.create_database(db("sales")).unwrap();
        assert!(c.tables("sales", None).unwrap().is_empty());
    }

    #[test]
    fn persisted_in_the_metadata_store() {
        let meta: Arc<dyn MetadataStore> = Arc::new(MemoryMetadata::default());
        let c = Catalog::open(meta.clone()).unwrap();
        c.create_database(db("d")).unwrap();
        c.create_table("d", Table::from_column_spec("t", "a:int").unwrap())
            .unwrap();
        drop(c);
        let again = Catalog::open(meta).unwrap();
        assert_eq!(again.table("d", "t").unwrap().columns()[0].name, "a");
    }
}
