//! `confab-relay`: reads configuration and hands over to the library.

use std::process::ExitCode;

use clap::Parser;
use relay::config::{AdvisorCommand, Cli, Command, SiteCommand};
use relay::store::{Role, SiteSettings};
use relay::{admin, demo, Config};

/// mimalloc instead of glibc's malloc: every message allocates and frees a few dozen small buffers
/// across the runtime's threads and the writer's, and glibc's per-thread arenas spent a tenth of
/// the relay's CPU on it (docs/PERFORMANCE.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("CONFAB_LOG").unwrap_or_else(|_| "info,sqlx=warn,tower_http=warn".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let cli = Cli::parse();
    match run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), String> {
    match cli.command {
        None => serve(&cli.serve).await,
        Some(Command::Serve(args)) => serve(&args).await,
        Some(Command::Demo(args)) => {
            let mut config = Config::from_args(&cli.serve).map_err(|e| e.to_string())?;
            config.data_dir = cli.serve.data.dir_or(demo::DEFAULT_DATA_DIR);
            demo::run(config, cli.serve.listen, args.demo_listen, args.phone_listen, args.demo_site_dir, args.demo_bot, shutdown_signal())
                .await
                .map_err(|e| e.to_string())
        }
        Some(Command::Advisor(AdvisorCommand::Create { email, name, password, role })) => {
            let role = if role == "admin" { Role::Admin } else { Role::Advisor };
            let password = match password {
                Some(p) => p,
                None => ask_password()?,
            };
            let store = Config::from_args(&cli.serve).map_err(|e| e.to_string())?.open_store().await.map_err(|e| e.to_string())?;
            let account = admin::create_account(&*store, &email, &name, &password, role).await.map_err(|e| e.to_string())?;
            store.close().await;
            let advisor = &account.info;
            println!("created {} {} <{}> (id {})", account.role.as_str(), advisor.name, advisor.email, advisor.id.0);
            if account.role != role {
                println!("this is the first account, so it is an admin: it can create the other accounts (this command with --role, or the admin API)");
            }
            Ok(())
        }
        Some(Command::Site(SiteCommand::Create { key, name, origins, greeting, color, reply_time })) => {
            let store = Config::from_args(&cli.serve).map_err(|e| e.to_string())?.open_store().await.map_err(|e| e.to_string())?;
            let settings = SiteSettings { key, name, greeting, color, reply_time, allowed_origins: origins, team_id: None };
            let (site, created) = admin::put_site(&*store, settings).await.map_err(|e| e.to_string())?;
            store.close().await;
            println!(
                "{} site {:?}; embed it with:\n  <script src=\"RELAY_URL/widget.js\" data-site=\"{}\" async></script>\nallowed origins: {}",
                if created { "created" } else { "updated" },
                site.name,
                site.key,
                site.allowed_origins.join(", ")
            );
            Ok(())
        }
    }
}

/// Ask for a new password on the terminal, twice, without echo.
fn ask_password() -> Result<String, String> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err("no password given: pass --password or set CONFAB_PASSWORD".into());
    }
    let first = rpassword::prompt_password("Password for the new advisor: ").map_err(|e| e.to_string())?;
    let again = rpassword::prompt_password("Same password again: ").map_err(|e| e.to_string())?;
    if first != again {
        return Err("the two passwords differ; nothing was created".into());
    }
    Ok(first)
}

async fn serve(args: &relay::config::ServeArgs) -> Result<(), String> {
    let config = Config::from_args(args).map_err(|e| e.to_string())?;
    let store = config.open_store().await.map_err(|e| e.to_string())?;
    let listener = demo::bind(args.listen).await.map_err(|e| e.to_string())?;
    println!("relay listening on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
    relay::serve(relay::AppState::new(config, store), listener, shutdown_signal()).await.map_err(|e| e.to_string())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
