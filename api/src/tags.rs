use poem_openapi::Tags;

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
