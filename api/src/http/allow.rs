//! `Allow` on every 405, as RFC 9110 requires: the methods the route table
//! lists for the path (and `HEAD` wherever `GET` is, which poem answers by
//! itself). The router's 405 does not say which methods exist, so the
//! table, held equal to the routes' document, does.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};

/// The methods of each path template, ready to send.
#[derive(Clone)]
pub struct AllowHeader {
    paths: Arc<Vec<(Vec<String>, HeaderValue)>>,
}

impl AllowHeader {
    /// From each operation's method (upper case) and path template (the
    /// route table's).
    pub fn new<'a>(operations: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut by_template: Vec<(&str, Vec<&str>)> = Vec::new();
        for (method, template) in operations {
            match by_template.iter_mut().find(|(known, _)| *known == template) {
                Some((_, methods)) => methods.push(method),
                None => by_template.push((template, vec![method])),
            }
        }
        let paths = by_template
            .into_iter()
            .map(|(template, mut methods)| {
                if methods.contains(&"GET") && !methods.contains(&"HEAD") {
                    methods.push("HEAD");
                }
                methods.sort_unstable();
                methods.dedup();
                let allow = HeaderValue::from_str(&methods.join(", "))
                    .expect("method names are header-safe");
                (segments(template).map(str::to_owned).collect(), allow)
            })
            .collect();
        Self {
            paths: Arc::new(paths),
        }
    }

    /// Adds `paths` served outside the document, with `GET` (and `HEAD`)
    /// only.
    pub fn with_get_only(mut self, paths: &[&str]) -> Self {
        let allow = HeaderValue::from_static("GET, HEAD");
        Arc::make_mut(&mut self.paths).extend(
            paths
                .iter()
                .map(|path| (segments(path).map(str::to_owned).collect(), allow.clone())),
        );
        self
    }

    /// The `Allow` value for a request path, if the table has its route.
    /// Where two templates fit (`/api/tasks/changes` and `/api/tasks/{id}`),
    /// the one with more literal segments wins, as in the router.
    fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        let requested: Vec<&str> = segments(path).collect();
        self.paths
            .iter()
            .filter(|(template, _)| {
                template.len() == requested.len()
                    && template.iter().zip(&requested).all(|(expected, actual)| {
                        expected == actual || (expected.starts_with('{') && !actual.is_empty())
                    })
            })
            .max_by_key(|(template, _)| {
                template
                    .iter()
                    .filter(|segment| !segment.starts_with('{'))
                    .count()
            })
            .map(|(_, allow)| allow)
    }
}

fn segments(path: &str) -> impl Iterator<Item = &str> {
    path.trim_start_matches('/').split('/')
}

impl<E: Endpoint> Middleware<E> for AllowHeader {
    type Output = AllowHeaderEndpoint<E>;

    fn transform(&self, inner: E) -> Self::Output {
        AllowHeaderEndpoint {
            inner,
            allow: self.clone(),
        }
    }
}

pub struct AllowHeaderEndpoint<E> {
    inner: E,
    allow: AllowHeader,
}

impl<E: Endpoint> Endpoint for AllowHeaderEndpoint<E> {
    type Output = Response;

    async fn call(&self, req: Request) -> poem::Result<Response> {
        let path = req.uri().path().to_owned();
        let mut response = self.inner.call(req).await?.into_response();
        if response.status() == StatusCode::METHOD_NOT_ALLOWED
            && let Some(allow) = self.allow.for_path(&path)
        {
            response.headers_mut().insert(header::ALLOW, allow.clone());
        }
        Ok(response)
    }
}

#[cfg(test)]
mod tests {
    use super::AllowHeader;

    #[test]
    fn methods_come_from_the_route_table_with_head_beside_get() {
        let allow = AllowHeader::new([
            ("GET", "/api/tasks"),
            ("POST", "/api/tasks"),
            ("GET", "/api/tasks/{id}"),
            ("PUT", "/api/tasks/{id}"),
            ("DELETE", "/api/tasks/{id}"),
            ("PATCH", "/api/tasks/{id}/complete"),
            ("GET", "/api/tasks/changes"),
        ]);
        let value = |path| allow.for_path(path).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(value("/api/tasks").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(
            value("/api/tasks/7").as_deref(),
            Some("DELETE, GET, HEAD, PUT")
        );
        assert_eq!(value("/api/tasks/x/complete").as_deref(), Some("PATCH"));
        assert_eq!(value("/api/tasks/changes").as_deref(), Some("GET, HEAD"));
        assert_eq!(value("/api/tasks/7/other"), None);
        assert_eq!(value("/api/tasks//complete"), None);
        let allow = allow.with_get_only(&["/docs"]);
        assert_eq!(
            allow.for_path("/docs").map(|v| v.to_str().unwrap()),
            Some("GET, HEAD")
        );
    }
}
