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

/// mimalloc's `arena_eager_commit` option: its place in mimalloc 2's
/// `mi_option_e`, which `libmimalloc-sys` does not name.
const ARENA_EAGER_COMMIT: libmimalloc_sys::mi_option_t = 4;

/// Run by the loader before `main`, so before the first allocation
/// reserves an arena: on Linux (which overcommits) mimalloc commits its
/// arenas up front, and never gives back memory of an arena so committed,
/// so the peak of a burst stayed resident (peak RSS under `list` on SQLite
/// 73 MB, against 53 MB with arenas committed as they are used;
/// BENCHMARKS.md).
#[cfg(target_os = "linux")]
#[used]
#[unsafe(link_section = ".init_array")]
static COMMIT_ARENAS_AS_USED: extern "C" fn() = commit_arenas_as_used;

#[cfg(target_os = "linux")]
extern "C" fn commit_arenas_as_used() {
    // SAFETY: sets one of mimalloc's options, before anything allocates
    // and before any thread of the process exists.
    unsafe { libmimalloc_sys::mi_option_set(ARENA_EAGER_COMMIT, 0) };
}

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
