//! The instance itself, as operators see it: is the database answering, how busy is its pool.

use crate::store::{PoolStats, Store};

#[derive(Clone)]
pub struct SystemService {
    store: Store,
}

impl SystemService {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    pub async fn database_ready(&self) -> bool {
        self.store.is_ready().await
    }

    pub fn database_pool(&self) -> PoolStats {
        self.store.pool_stats()
    }
}
