//! `/api/tags`: the tags on the caller's tasks, with counts; renaming one
//! (merging it into another) or removing it from every task. The tags
//! themselves are stored with the tasks (`tasks::repository`), since every
//! change to a tag is a change to the tasks that carry it.

mod routes;

pub use routes::TagsApi;
