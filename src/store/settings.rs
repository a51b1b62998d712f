//! Instance-wide key/value settings, such as the secret that signs CSRF tokens.

use super::{Store, StoreError};
use rusqlite::OptionalExtension;

impl Store {
    pub async fn setting(&self, key: &'static str) -> Result<Option<String>, StoreError> {
        self.read(move |conn| {
            Ok(conn
                .query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                    row.get(0)
                })
                .optional()?)
        })
        .await
    }

    /// Returns the stored value for `key`, storing `value` first if there is none.
    pub async fn setting_or_insert(
        &self,
        key: &'static str,
        value: String,
    ) -> Result<String, StoreError> {
        self.write(move |conn| {
            conn.execute(
                "INSERT INTO settings (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO NOTHING",
                (key, &value),
            )?;
            Ok(
                conn.query_row("SELECT value FROM settings WHERE key = ?1", [key], |row| {
                    row.get(0)
                })?,
            )
        })
        .await
    }
}
