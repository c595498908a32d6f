//! `Allow` on every 405, as RFC 9110 requires: the methods the OpenAPI
//! document lists for the path (and `HEAD` wherever `GET` is, which poem
//! answers by itself). The router's 405 does not say which methods exist,
//! so the document, generated from the same routes, does.

use std::sync::Arc;

use poem::http::{HeaderValue, StatusCode, header};
use poem::{Endpoint, IntoResponse, Middleware, Request, Response};
use serde_json::Value;

/// The methods of each documented path template, ready to send.
#[derive(Clone)]
pub struct AllowHeader {
    paths: Arc<Vec<(Vec<String>, HeaderValue)>>,
}

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

impl AllowHeader {
    /// From the OpenAPI document (as `/openapi.json` serves it).
    pub fn from_document(document: &str) -> Self {
        let document: Value = serde_json::from_str(document).unwrap_or_default();
        let paths = document["paths"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(template, operations)| {
                let mut methods: Vec<String> = operations
                    .as_object()
                    .into_iter()
                    .flat_map(|operations| operations.keys())
                    .filter(|method| METHODS.contains(&method.as_str()))
                    .map(|method| method.to_ascii_uppercase())
                    .collect();
                if methods.iter().any(|m| m == "GET") && !methods.iter().any(|m| m == "HEAD") {
                    methods.push("HEAD".to_owned());
                }
                methods.sort();
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

    /// The `Allow` value for a request path, if the document has its route.
    fn for_path(&self, path: &str) -> Option<&HeaderValue> {
        let requested: Vec<&str> = segments(path).collect();
        self.paths
            .iter()
            .find(|(template, _)| {
                template.len() == requested.len()
                    && template.iter().zip(&requested).all(|(expected, actual)| {
                        expected == actual || (expected.starts_with('{') && !actual.is_empty())
                    })
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
    fn methods_come_from_the_document_with_head_beside_get() {
        let allow = AllowHeader::from_document(
            r#"{"paths": {
                "/api/tasks": {"get": {}, "post": {}, "parameters": []},
                "/api/tasks/{id}": {"get": {}, "put": {}, "delete": {}},
                "/api/tasks/{id}/complete": {"patch": {}}
            }}"#,
        );
        let value = |path| allow.for_path(path).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(value("/api/tasks").as_deref(), Some("GET, HEAD, POST"));
        assert_eq!(
            value("/api/tasks/7").as_deref(),
            Some("DELETE, GET, HEAD, PUT")
        );
        assert_eq!(value("/api/tasks/x/complete").as_deref(), Some("PATCH"));
        assert_eq!(value("/api/tasks/7/other"), None);
        assert_eq!(value("/api/tasks//complete"), None);
        let allow = allow.with_get_only(&["/docs"]);
        assert_eq!(
            allow.for_path("/docs").map(|v| v.to_str().unwrap()),
            Some("GET, HEAD")
        );
    }
}
