//! One module per Glue operation, each `decode → validate → apply → encode`.

pub mod create_database;
pub mod create_table;
pub mod delete_database;
pub mod delete_table;
pub mod get_database;
pub mod get_databases;
pub mod get_table;
pub mod get_tables;
pub mod update_database;
pub mod update_table;
