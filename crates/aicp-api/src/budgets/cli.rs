//! `aicp budgets list|status|create|delete --project NAME [...]`: the same use cases as the API,
//! straight against the database (like `aicp keys`).

use std::sync::Arc;

use aicp_domain::SystemClock;
use aicp_domain::budgets::BudgetError;
use anyhow::{Context, bail};
use serde_json::{Value, json};

use crate::config::Config;
use crate::routes::budgets::{BudgetItem, BudgetStatusItem};

const USAGE: &str = "usage: aicp budgets list|status|create|delete --project NAME \
[--name N --amount USD --period day|week|month --tz ZONE --scope KIND=VALUE --thresholds 50,80,100] [--id ID]";

/// The JSON body a `create` describes, validated by the domain like an API request.
fn create_body(flag: &dyn Fn(&str) -> Option<String>) -> anyhow::Result<Value> {
    let mut body = json!({
        "name": flag("--name").context("--name N is required")?,
        "amountUsd": flag("--amount").context("--amount USD is required")?,
        "period": flag("--period").context("--period day|week|month is required")?,
    });
    if let Some(tz) = flag("--tz") {
        body["timeZone"] = json!(tz);
    }
    if let Some(scope) = flag("--scope") {
        let (kind, value) = scope.split_once('=').context("--scope must be KIND=VALUE")?;
        body["scope"] = json!({"type": kind, "value": value});
    }
    if let Some(list) = flag("--thresholds") {
        let pcts: Vec<Value> = list
            .split(',')
            .map(|p| p.trim().parse::<u64>().map(Value::from))
            .collect::<Result<_, _>>()
            .context("--thresholds must be whole percents, e.g. 50,80,100")?;
        body["thresholds"] = Value::Array(pcts);
    }
    Ok(body)
}

/// Runs the subcommand.
///
/// # Errors
/// Bad arguments (with the validation issues), or the database failing.
pub async fn budgets_command(config: &Config, args: Vec<String>) -> anyhow::Result<()> {
    let flag =
        |name: &str| args.iter().position(|a| a == name).and_then(|i| args.get(i + 1)).cloned();
    let project = flag("--project").context("--project NAME is required")?;
    let project = crate::keys::project_name(&project).map_err(|e| anyhow::anyhow!(e))?;
    crate::server::prepare_database(&config.database_url).await?;
    let pg = aicp_storage::build_pool(&aicp_storage::PoolConfig::new(&config.database_url))?;
    let budgets = crate::server::build_budgets(pg, Arc::new(SystemClock));
    let service = &budgets.service;
    let fail = |e: BudgetError| match e {
        BudgetError::Invalid(issues) => {
            let lines: Vec<String> =
                issues.iter().map(|i| format!("  {}: {}", i.path, i.message)).collect();
            anyhow::anyhow!("invalid budget:\n{}", lines.join("\n"))
        }
        BudgetError::NotFound => anyhow::anyhow!("no such budget in project {project}"),
        BudgetError::Repo(e) => anyhow::Error::new(e),
    };
    match args.first().map(String::as_str) {
        Some("list") => {
            let items: Vec<BudgetItem> =
                service.list(&project).await?.iter().map(BudgetItem::from).collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        Some("status") => {
            let items: Vec<BudgetStatusItem> =
                service.status(&project).await?.iter().map(BudgetStatusItem::from).collect();
            println!("{}", serde_json::to_string_pretty(&items)?);
        }
        Some("create") => {
            let budget = service.create(&project, &create_body(&flag)?).await.map_err(fail)?;
            println!("{}", serde_json::to_string_pretty(&BudgetItem::from(&budget))?);
        }
        Some("delete") => {
            let id = flag("--id").context("--id ID is required")?;
            let id = uuid::Uuid::parse_str(&id).context("--id must be a budget id (UUID)")?;
            service.delete(&project, id).await.map_err(fail)?;
            eprintln!("deleted {id}");
        }
        _ => bail!(USAGE),
    }
    Ok(())
}
