//! The OpenAPI document and Swagger UI, both generated from the route code:
//! the `#[OpenApi]` impl blocks of each resource, combined here.

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, Response, Route};
use poem_openapi::OpenApiService;

use crate::batch::BatchApi;
use crate::changes::ChangesApi;
use crate::health::HealthApi;
use crate::me::MeApi;
use crate::tags::TagsApi;
use crate::tasks::TasksApi;

pub type Apis = (TasksApi, BatchApi, ChangesApi, TagsApi, MeApi, HealthApi);

/// The OpenAPI service: the routes and, from the same code, the document.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (TasksApi, BatchApi, ChangesApi, TagsApi, MeApi, HealthApi),
        "Todo API",
        env!("CARGO_PKG_VERSION"),
    )
    .description(
        "A multi-user Todo backend. Every `/api` route needs `Authorization: Bearer <JWT>` \
         (a Better Auth token); each user sees only their own tasks. Errors are \
         `application/problem+json` (RFC 9457).",
    )
}

/// The OpenAPI document, byte for byte as served at `/openapi.json` and
/// committed at the root (`api openapi > openapi.json`).
pub fn openapi_document() -> String {
    document_of(&openapi_service())
}

fn document_of(api: &OpenApiService<Apis, ()>) -> String {
    api.spec() + "\n"
}

/// `/openapi.json`: the document, built once; other methods than `GET` and
/// `HEAD` are a 405.
pub fn document_endpoint(
    api: &OpenApiService<Apis, ()>,
) -> impl Endpoint<Output = Response> + use<> {
    let document = document_of(api);
    poem::get(make_sync(move |_| {
        Response::builder()
            .content_type("application/json")
            .body(document.clone())
    }))
}

/// Swagger UI (`GET` and `HEAD`; other methods are a 405), self-contained: poem-openapi inlines its script and styles,
/// and an empty inline icon stops the browser from asking for a favicon.
pub fn docs_route(api: &OpenApiService<Apis, ()>) -> Route {
    let html = api.swagger_ui_html().replacen(
        "<head>",
        "<head>\n    <link rel=\"icon\" href=\"data:,\">",
        1,
    );
    Route::new().at("/", poem::get(make_sync(move |_| Html(html.clone()))))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::openapi_document;
    use crate::route_table::OPERATIONS;

    /// The route table and the document list the same operations, so the
    /// `Allow` header, the UTF-8 path check and the metrics' route labels,
    /// all read from the table, say what the document says.
    #[test]
    fn the_route_table_is_the_documents() {
        let document: serde_json::Value =
            serde_json::from_str(&openapi_document()).expect("the document is JSON");
        let mut documented = BTreeSet::new();
        for (path, operations) in document["paths"].as_object().expect("paths") {
            for (method, operation) in operations.as_object().expect("operations") {
                if let Some(id) = operation["operationId"].as_str() {
                    documented.insert((method.to_ascii_uppercase(), path.clone(), id.to_owned()));
                }
            }
        }
        let table: BTreeSet<_> = OPERATIONS
            .iter()
            .map(|op| (op.method.to_owned(), op.path.to_owned(), op.id.to_owned()))
            .collect();
        assert_eq!(table, documented);
        assert_eq!(table.len(), OPERATIONS.len(), "an operation listed twice");
    }
}
