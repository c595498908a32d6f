//! Query strings and paths must decode to UTF-8. The framework decodes
//! queries lossily, so `q=%FF` would arrive as `"\u{FFFD}"` and silently
//! search for it; and its router drops a path segment that does not decode,
//! then answers a bare 400. These checks answer 422 naming the parameter
//! instead (or 404 where no route has a parameter there).

use std::sync::Arc;

use percent_encoding::percent_decode;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::ApiError;
use super::problem::FieldError;

/// Middleware: refuses a request whose query string holds a parameter name
/// or value that is not UTF-8 once percent-decoded.
pub async fn require_utf8_query<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if let Some(name) = req.uri().query().and_then(first_non_utf8_parameter) {
        return Err(ApiError::invalid(name, "is not valid UTF-8 once percent-decoded").into());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The path templates (the route table's), split into segments (`{id}` for
/// a parameter), to name the parameter a path segment stands for.
#[derive(Clone)]
pub struct PathTemplates(Arc<Vec<Vec<String>>>);

impl PathTemplates {
    pub fn new<'a>(templates: impl IntoIterator<Item = &'a str>) -> Self {
        let templates = templates
            .into_iter()
            .map(|template| segments(template).map(str::to_owned).collect())
            .collect();
        Self(Arc::new(templates))
    }

    /// Why `path` is refused, if a segment is not UTF-8 once decoded.
    fn refusal(&self, path: &str) -> Option<ApiError> {
        let requested: Vec<&str> = segments(path).collect();
        let bad = requested
            .iter()
            .position(|segment| percent_decode(segment.as_bytes()).decode_utf8().is_err())?;
        let parameter = self.0.iter().find_map(|template| {
            let fits =
                template.len() == requested.len()
                    && template.iter().zip(&requested).enumerate().all(
                        |(n, (expected, actual))| {
                            expected.starts_with('{') || (n != bad && expected == actual)
                        },
                    );
            if !fits {
                return None;
            }
            template[bad].strip_prefix('{')?.strip_suffix('}')
        });
        Some(match parameter {
            Some(name) => ApiError::InvalidParameter(FieldError::new(
                name,
                "is not valid UTF-8 once percent-decoded",
            )),
            None => ApiError::NoSuchRoute,
        })
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

/// Middleware: refuses a request whose path holds a segment that is not
/// UTF-8 once percent-decoded, before the router drops it.
pub async fn require_utf8_path<E: Endpoint>(
    templates: PathTemplates,
    next: E,
    req: Request,
) -> poem::Result<Response> {
    if let Some(refusal) = templates.refusal(req.uri().path()) {
        return Err(refusal.into());
    }
    next.call(req).await.map(IntoResponse::into_response)
}

/// The name (decoded lossily) of the first parameter whose name or value is
/// not UTF-8.
fn first_non_utf8_parameter(query: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        // `+` (a space in a query) is ASCII, so it cannot change whether
        // the rest decodes; `decode_utf8` borrows when nothing is escaped.
        let decodes = |part: &str| percent_decode(part.as_bytes()).decode_utf8().is_ok();
        (!decodes(name) || !decodes(value)).then(|| {
            percent_decode(name.as_bytes())
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

#[cfg(test)]
mod tests {
    use super::{PathTemplates, first_non_utf8_parameter};
    use crate::http::error::ApiError;

    #[test]
    fn a_path_segment_that_is_not_utf8_names_its_parameter() {
        let templates =
            PathTemplates::new(["/api/tasks", "/api/tasks/{id}", "/api/tasks/{id}/complete"]);
        let named = |path| match templates.refusal(path) {
            Some(ApiError::InvalidParameter(error)) => Some(error.field),
            Some(other) => Some(other.to_string()),
            None => None,
        };
        assert_eq!(named("/api/tasks/%FF").as_deref(), Some("id"));
        assert_eq!(named("/api/tasks/%ff/complete").as_deref(), Some("id"));
        assert_eq!(named("/api/%FF").as_deref(), Some("no such route"));
        assert_eq!(
            named("/api/tasks/%FF/other").as_deref(),
            Some("no such route")
        );
        assert_eq!(named("/api/tasks/caf%C3%A9"), None);
        assert_eq!(named("/api/tasks/7"), None);
    }

    #[test]
    fn names_the_parameter_that_is_not_utf8() {
        assert_eq!(first_non_utf8_parameter("q=%FF").as_deref(), Some("q"));
        assert_eq!(
            first_non_utf8_parameter("limit=5&q=a%C3").as_deref(),
            Some("q")
        );
        assert_eq!(
            first_non_utf8_parameter("%FF=1").as_deref(),
            Some("\u{FFFD}")
        );
    }

    #[test]
    fn utf8_queries_pass() {
        assert_eq!(
            first_non_utf8_parameter("q=caf%C3%A9+au+lait&limit=5"),
            None
        );
        assert_eq!(first_non_utf8_parameter("q=%E2%9C%93"), None);
        assert_eq!(first_non_utf8_parameter("flag&q="), None);
    }
}
