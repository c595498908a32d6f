use anyhow::Context;
use api::auth::{TokenRequest, mint_hs256};
use api::configuration::Settings;
use api::openapi::openapi_document;
use api::startup::Application;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;

/// mimalloc rather than glibc's allocator: a request allocates and frees
/// many small buffers across threads, where glibc's `malloc`/`free` took a
/// sixth of the service's CPU under load (`BENCHMARKS.md`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The Todo API service.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API (the default).
    Serve,
    /// Print an HS256 token signed with BETTER_AUTH_SECRET, for local testing.
    Token {
        /// The user id (`sub`).
        #[arg(long)]
        sub: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        name: Option<String>,
        /// Lifetime in minutes.
        #[arg(long, default_value_t = 60)]
        minutes: i64,
    },
    /// Print the OpenAPI document (what `/openapi.json` serves).
    Openapi,
    /// Check the configuration, database, migrations and key set, then exit
    /// (non-zero when a check fails).
    Check,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            api::telemetry::init();
            let settings = Settings::from_env()?;
            Application::build(settings)
                .await?
                .run_until_stopped()
                .await?;
        }
        Command::Token {
            sub,
            email,
            name,
            minutes,
        } => {
            let settings = Settings::from_env()?;
            let secret = settings
                .auth
                .secret
                .context("BETTER_AUTH_SECRET must be set to mint a token the service accepts")?;
            let request = TokenRequest {
                email,
                name,
                issuer: settings.auth.issuer,
                audience: settings.auth.audience,
                lifetime: chrono::Duration::minutes(minutes),
                ..TokenRequest::for_user(sub)
            };
            println!("{}", mint_hs256(secret.expose_secret(), &request));
        }
        Command::Openapi => print!("{}", openapi_document()),
        Command::Check => {
            if !api::preflight::check(Settings::from_env()).await {
                std::process::exit(1);
            }
        }
    }
    Ok(())
}
