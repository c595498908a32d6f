//! The OpenAPI document and Swagger UI, both generated from the route code:
//! the `#[OpenApi]` impl blocks of each resource, combined here.

use poem::endpoint::make_sync;
use poem::web::Html;
use poem::{Endpoint, Response, Route};
use poem_openapi::{OpenApiService, Tags};

use crate::changes::ChangesApi;
use crate::health::HealthApi;
use crate::me::MeApi;
use crate::tasks::TasksApi;

/// Groups of operations in the OpenAPI document and Swagger UI.
#[derive(Tags)]
pub enum ApiTags {
    /// The caller's tasks.
    Tasks,
    /// The caller's identity.
    Me,
    /// Liveness and readiness probes.
    Health,
}

pub type Apis = (TasksApi, ChangesApi, MeApi, HealthApi);

/// The OpenAPI service: the routes and, from the same code, the document.
pub fn openapi_service() -> OpenApiService<Apis, ()> {
    OpenApiService::new(
        (TasksApi, ChangesApi, MeApi, HealthApi),
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

/// The paths served beside the document's own (`GET` and `HEAD` only).
pub const UNDOCUMENTED_GET_PATHS: [&str; 2] = ["/docs", "/openapi.json"];

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
