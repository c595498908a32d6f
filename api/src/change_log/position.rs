//! Where one user's feed stands, read from their owner row.

use sea_orm::{DatabaseConnection, DbErr};

use super::cursor::{Cursor, START};
use super::owner;

/// Where one user's feed stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    pub epoch: i64,
    /// The latest change number: every change up to it has committed.
    pub head: i64,
    /// Tombstones up to this number have been purged.
    pub purged: i64,
}

impl Position {
    /// A user with no row: nothing has happened yet.
    const EMPTY: Self = Self {
        epoch: START.epoch,
        head: START.seq,
        purged: 0,
    };

    pub async fn of(db: &DatabaseConnection, user_id: &str) -> Result<Self, DbErr> {
        let row = owner::feed_position(db, user_id).await?;
        Ok(Self::stored(row.map(|row| {
            (row.sync_epoch, row.change_seq, row.purged_seq)
        })))
    }

    /// The position a user's row stores as `(sync_epoch, change_seq,
    /// purged_seq)`, read wherever the row is read; `None` for a user with
    /// no row yet.
    pub fn stored(columns: Option<(i64, i64, i64)>) -> Self {
        columns.map_or(Self::EMPTY, |(epoch, head, purged)| Self {
            epoch,
            head,
            purged,
        })
    }

    /// Whether `cursor` was issued for this life of the user's row and has
    /// not expired. [`START`] always is: a client that has seen nothing
    /// cannot have missed a deletion.
    pub fn accepts(&self, cursor: Cursor) -> bool {
        cursor == START
            || (cursor.epoch == self.epoch && cursor.seq >= self.purged && cursor.seq <= self.head)
    }

    /// The cursor at change `seq` of this position's feed.
    pub fn cursor_at(&self, seq: i64) -> Cursor {
        Cursor {
            epoch: self.epoch,
            seq,
        }
    }
}
