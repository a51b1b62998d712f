//! `kefu admin …`: account management from the shell.

use super::AdminCommand;
use crate::config::Config;
use crate::data_dir::DataDir;
use crate::service::{AccountService, NewUserRequest};
use crate::store::Store;
use anyhow::{Context, bail};
use std::io::{BufRead, IsTerminal};

pub async fn run(command: AdminCommand, config: &Config) -> anyhow::Result<()> {
    let data_dir = DataDir::create(&config.data_dir)?;
    let store = Store::open(&data_dir.database(), 1)
        .await
        .with_context(|| format!("opening {}", data_dir.database().display()))?;
    let accounts = AccountService::new(store.clone());
    let outcome = match command {
        AdminCommand::CreateUser {
            email,
            role,
            name,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            let display_name = name.unwrap_or_else(|| {
                email
                    .split('@')
                    .next()
                    .unwrap_or(email.as_str())
                    .to_string()
            });
            accounts
                .create_user(NewUserRequest {
                    email,
                    display_name,
                    role,
                    password,
                })
                .await
                .map(|user| {
                    println!(
                        "created {} {} (id {})",
                        user.role.as_str(),
                        user.email.as_str(),
                        user.id
                    );
                })
        }
        AdminCommand::ResetPassword {
            email,
            password_stdin,
        } => {
            let password = read_password(password_stdin)?;
            accounts
                .reset_password(&email, &password)
                .await
                .map(|user| {
                    println!(
                        "password changed for {}; all their sessions ended",
                        user.email.as_str()
                    );
                })
        }
        AdminCommand::ListUsers => accounts.list_users().await.map(|users| {
            for user in users {
                println!(
                    "{}\t{}\t{}\t{}",
                    user.id,
                    user.email.as_str(),
                    user.role.as_str(),
                    user.status.as_str()
                );
            }
        }),
    };
    store.close().await;
    outcome.map_err(|error| anyhow::anyhow!("{error}"))
}

fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from stdin")?;
        return Ok(line.trim_end_matches(['\r', '\n']).to_string());
    }
    if !std::io::stdin().is_terminal() {
        bail!("no terminal to ask for a password; pass --password-stdin and pipe it in");
    }
    let first = rpassword::prompt_password("Password (at least 10 characters): ")?;
    let second = rpassword::prompt_password("Repeat the password: ")?;
    if first != second {
        bail!("the passwords do not match");
    }
    Ok(first)
}
