//! Class tables: index, action id and name of every class of a dataset.

use serde::{Deserialize, Serialize};

/// One class: 0-based `index` (the `label` column), 1-based `action` id as in
/// the raw file names, and its name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClassEntry {
    pub index: u16,
    pub action: u16,
    pub name: String,
}

/// All classes of a dataset, in index order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ClassTable(pub Vec<ClassEntry>);

impl ClassTable {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The class of a 1-based action id.
    pub fn by_action(&self, action: u16) -> Option<&ClassEntry> {
        self.0.iter().find(|c| c.action == action)
    }

    pub fn by_index(&self, index: u16) -> Option<&ClassEntry> {
        self.0.get(usize::from(index))
    }
}
