//! Query strings must decode to UTF-8. The framework decodes them lossily,
//! so `q=%FF` would arrive as `"\u{FFFD}"` and silently search for it; this
//! check answers 422 naming the parameter instead.

use percent_encoding::percent_decode;
use poem::{Endpoint, IntoResponse, Request, Response};

use super::error::ApiError;

/// Middleware: refuses a request whose query string holds a parameter name
/// or value that is not UTF-8 once percent-decoded.
pub async fn require_utf8_query<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    if let Some(name) = req.uri().query().and_then(first_non_utf8_parameter) {
        return Err(ApiError::invalid(name, "is not valid UTF-8 once percent-decoded").into());
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
    use super::first_non_utf8_parameter;

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
