//! `aicp`: the AI Cost Profiler server.
//!
//! ```text
//! aicp [serve]     create/migrate the database, then serve (configuration: see config.rs)
//! aicp migrate     create/migrate the database and exit
//! ```

use aicp_api::config::Config;
use tracing_subscriber::EnvFilter;

const USAGE: &str = "usage: aicp [serve|migrate|keys ...]

  serve                                   create and migrate the database, then serve HTTP (default)
  migrate                                 create and migrate the database, then exit
  keys create --project NAME [--name N]   issue an API key (printed once; only its digest is stored)
  keys list --project NAME                list a project's keys (display forms only)
  keys revoke --project NAME --id ID      revoke a key
  budgets list|status --project NAME      a project's budgets, or their spend this period
  budgets create --project NAME --name N --amount USD --period day|week|month
          [--tz ZONE] [--scope feature|model|provider|user=VALUE] [--thresholds 50,80,100]
  budgets delete --project NAME --id ID   delete a budget

Configuration comes from the environment: see README.md.";

#[actix_web::main]
async fn main() -> anyhow::Result<()> {
    let command = std::env::args().nth(1);
    let config = Config::from_env()?;
    init_logging(&config)?;
    match command.as_deref() {
        None | Some("serve") => aicp_api::server::run(config).await,
        Some("migrate") => aicp_api::server::prepare_database(&config.database_url).await,
        Some("keys") => {
            aicp_api::server::keys_command(&config, std::env::args().skip(2).collect()).await
        }
        Some("budgets") => {
            aicp_api::budgets::cli::budgets_command(&config, std::env::args().skip(2).collect())
                .await
        }
        Some("-h" | "--help" | "help") => {
            println!("{USAGE}");
            Ok(())
        }
        Some(other) => anyhow::bail!("unknown command {other:?}\n\n{USAGE}"),
    }
}

fn init_logging(config: &Config) -> anyhow::Result<()> {
    let filter = EnvFilter::try_new(&config.log_level).map_err(|e| {
        anyhow::anyhow!("LOG_LEVEL {:?} is not a valid filter: {e}", config.log_level)
    })?;
    // Logs go to stderr: stdout carries command output (e.g. a new key) only.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    if config.log_json {
        builder.json().init();
    } else {
        builder.init();
    }
    Ok(())
}
