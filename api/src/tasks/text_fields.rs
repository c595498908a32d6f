//! The limits of the tasks' text inputs, declared once: the body readers,
//! the `q` parameter and the OpenAPI document all take them from here.

use crate::http::text::TextRule;

/// A task's title: trimmed, 1 to 200 characters.
pub enum Title {}

impl TextRule for Title {
    const NAME: &'static str = "task_title";
    const MAX_CHARS: usize = 200;
    const TRIMMED: bool = true;
    const NON_BLANK: bool = true;
}

/// A task's description: at most 1000 characters, kept as sent.
pub enum Description {}

impl TextRule for Description {
    const NAME: &'static str = "task_description";
    const MAX_CHARS: usize = 1000;
}

/// `q`: text to find in titles and descriptions, at most 200 characters.
pub enum Search {}

impl TextRule for Search {
    const NAME: &'static str = "search_text";
    const MAX_CHARS: usize = 200;
}
