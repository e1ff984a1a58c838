//! `satchel`: the reference command-line client for teachers, parents and school admins.
//!
//! Every command works on one profile folder (`--home`, or `SATCHEL_HOME`, or a
//! per-user data folder) and prints people-readable text, or JSON with `--json`.
#![forbid(unsafe_code)]

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use satchel_client::{Client, ClientError, Message};
use satchel_core::school::Role;

/// Satchel: end-to-end encrypted messages between a school, its teachers and parents.
#[derive(Debug, Parser)]
#[command(name = "satchel", version, about, long_about = None)]
struct Cli {
    /// The profile folder (holds your keys and messages). Defaults to $SATCHEL_HOME, or
    /// $XDG_DATA_HOME/satchel, or ~/.local/share/satchel.
    #[arg(long, global = true, value_name = "DIR", env = "SATCHEL_HOME")]
    home: Option<PathBuf>,
    /// Print JSON instead of text (one object per line for lists of messages).
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// School administration (the admin's device only, except `create`).
    #[command(subcommand)]
    School(SchoolCommand),
    /// Enrol this device with an invite code from the school.
    Join {
        /// The invite code (one line starting with SATCHEL1-).
        code: String,
    },
    /// Show who this device is.
    Whoami,
    /// List the people in the school directory, with verified state and safety numbers.
    Contacts,
    /// Send a message.
    Send {
        /// Who to send to: a name from `satchel contacts`, or an account id.
        to: String,
        /// The text; `-` reads it from standard input.
        text: String,
    },
    /// Fetch, decrypt, store and print new messages.
    Sync,
    /// Show the conversation with someone.
    History {
        /// A name from `satchel contacts`, or an account id.
        with: String,
    },
}

#[derive(Debug, Subcommand)]
enum SchoolCommand {
    /// Create a school: its root key, its registration on the relay, and this device as
    /// its admin. Prints the school's fingerprint.
    Create {
        /// The school's name.
        #[arg(long)]
        name: String,
        /// The relay's address, e.g. http://127.0.0.1:7878.
        #[arg(long, value_name = "URL")]
        relay: String,
    },
    /// Create a one-time invite code for a teacher, staff member or parent.
    Invite {
        /// teacher, staff or parent.
        #[arg(long, value_parser = ["teacher", "staff", "parent", "admin"])]
        role: String,
        /// The name others will see, e.g. "Ms Rivera" or "Sam's mum".
        #[arg(long)]
        name: String,
        /// A class (repeat for several), e.g. --class 5B.
        #[arg(long = "class", value_name = "CLASS")]
        classes: Vec<String>,
    },
    /// Revoke everyone with this name: their messages are no longer shown as verified.
    Revoke {
        /// The name, as in `satchel contacts`.
        name: String,
    },
}

fn default_home() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("satchel");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local").join("share").join("satchel")
}

fn time(millis: u64) -> String {
    let when = std::time::UNIX_EPOCH + std::time::Duration::from_millis(millis);
    humantime::format_rfc3339_seconds(when).to_string()
}

fn print_message(message: &Message, json: bool) {
    if json {
        let value = serde_json::json!({
            "from": message.from,
            "role": message.role,
            "verified": message.verified,
            "text": message.text,
            "sent_at": message.sent_at,
            "outgoing": message.outgoing,
        });
        println!("{value}");
    } else {
        let from = if message.outgoing {
            "you".to_string()
        } else if message.verified {
            format!("{} ({}, verified)", message.from, message.role)
        } else {
            format!("NOT VERIFIED: {}", message.from)
        };
        println!("[{}] {from}: {}", time(message.sent_at), message.text);
    }
}

async fn run(cli: Cli) -> Result<(), ClientError> {
    let home = cli.home.clone().unwrap_or_else(default_home);
    let mut client = Client::open(&home)?;
    let json = cli.json;
    match cli.command {
        Command::School(SchoolCommand::Create { name, relay }) => {
            let me = client.create_school(&name, &relay).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "school_id": me.school_id, "name": me.name })
                );
            } else {
                println!("School {name:?} created on {relay}.");
                println!("School fingerprint: {}", me.school_id);
                println!(
                    "You are {}, the school's admin. Invite people with `satchel school invite`.",
                    me.name
                );
            }
        }
        Command::School(SchoolCommand::Invite {
            role,
            name,
            classes,
        }) => {
            let role = Role::parse(&role).unwrap_or(Role::Parent);
            let code = client.invite(role, &name, &classes).await?;
            if json {
                println!("{}", serde_json::json!({ "code": code }));
            } else {
                println!("{code}");
            }
        }
        Command::School(SchoolCommand::Revoke { name }) => {
            let count = client.revoke(&name).await?;
            if json {
                println!("{}", serde_json::json!({ "revoked": count }));
            } else {
                println!(
                    "Revoked {name} ({count} certificate(s)). Their messages are no longer shown as verified."
                );
            }
        }
        Command::Join { code } => {
            let me = client.join(&code).await?;
            if json {
                println!("{}", serde_json::to_string(&me).unwrap_or_default());
            } else {
                let classes = if me.classes.is_empty() {
                    String::new()
                } else {
                    format!(" of {}", me.classes.join(", "))
                };
                println!(
                    "Joined school {} as {}, {}{classes}.",
                    me.school_id, me.name, me.role
                );
                println!("Your fingerprint: {}", me.fingerprint);
            }
        }
        Command::Whoami => {
            let me = client.whoami()?;
            if json {
                println!("{}", serde_json::to_string(&me).unwrap_or_default());
            } else {
                println!("name:        {}", me.name);
                println!(
                    "role:        {}{}",
                    me.role,
                    if me.admin {
                        " (holds the school root key)"
                    } else {
                        ""
                    }
                );
                println!("classes:     {}", me.classes.join(", "));
                println!("account:     {}", me.account_id);
                println!("school:      {}", me.school_id);
                println!("fingerprint: {}", me.fingerprint);
            }
        }
        Command::Contacts => {
            for contact in client.contacts().await? {
                if json {
                    println!("{}", serde_json::to_string(&contact).unwrap_or_default());
                } else {
                    let mark = if contact.verified {
                        "verified"
                    } else {
                        "NOT VERIFIED"
                    };
                    println!(
                        "{} — {} {} [{mark}] account {} safety number {}",
                        contact.name,
                        contact.role,
                        contact.classes.join(", "),
                        contact.account_id,
                        contact.safety_number
                    );
                }
            }
        }
        Command::Send { to, text } => {
            let text = if text == "-" {
                let mut input = String::new();
                std::io::stdin()
                    .read_to_string(&mut input)
                    .map_err(|_| ClientError::Profile("standard input is not readable text"))?;
                input.trim_end_matches('\n').to_string()
            } else {
                text
            };
            let delivered = client.send(&to, &text).await?;
            if json {
                println!(
                    "{}",
                    serde_json::json!({ "to": to, "delivered_to_relay": delivered })
                );
            } else if delivered {
                println!("Sent to {to}.");
            } else {
                println!(
                    "Saved for {to}, but the relay did not take it yet; it is sent at the next `satchel sync`."
                );
            }
        }
        Command::Sync => {
            let report = client.sync().await?;
            for message in &report.messages {
                print_message(message, json);
            }
            for reason in &report.dropped {
                eprintln!("warning: a message was dropped: {reason}");
            }
            if !json && report.messages.is_empty() {
                println!("No new messages.");
            }
        }
        Command::History { with } => {
            for message in client.history(&with)? {
                print_message(&message, json);
            }
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}
