//! `satchel`: the reference command-line client for teachers, parents and school admins.
//!
//! Every command works on one profile folder (`--home`, or `SATCHEL_HOME`, or a
//! per-user data folder), encrypted under a passphrase (`SATCHEL_PASSPHRASE`, or asked
//! on the terminal), and prints people-readable text, or JSON with `--json`.
//!
//! Names and message texts come from other people: everything printed goes through
//! [`satchel_client::display`], so no text can move the cursor, change colours, reverse
//! itself, or fake a line of Satchel's own output.
#![forbid(unsafe_code)]

mod app;
mod output;
mod passphrase;

use std::io::Read as _;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use satchel_client::relay::TransportConfig;
use satchel_client::{Client, ClientConfig, ClientError, GroupKind, InviteOptions, SendOptions};
use satchel_core::school::Role;

/// Satchel: end-to-end encrypted messages between a school, its teachers and parents.
#[derive(Debug, Parser)]
#[command(name = "satchel", version, about, long_about = None)]
struct Cli {
    /// The profile folder (holds your keys and messages, encrypted). Defaults to
    /// $SATCHEL_HOME, or $XDG_DATA_HOME/satchel, or ~/.local/share/satchel.
    #[arg(long, global = true, value_name = "DIR", env = "SATCHEL_HOME")]
    home: Option<PathBuf>,
    /// A CA certificate (PEM) to trust for the relay, for a school that runs its own
    /// certificate authority.
    #[arg(long, global = true, value_name = "FILE", env = "SATCHEL_CA_FILE")]
    ca_file: Option<PathBuf>,
    /// Print JSON instead of text (one object per line; errors too).
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
        /// The invite code (one line starting with SATCHEL1-; case and spaces do not
        /// matter).
        code: Vec<String>,
    },
    /// Show who this device is.
    Whoami,
    /// List the people in the school directory, with verified state and safety numbers.
    Contacts,
    /// Groups: class groups, class announcements, threads with a class's teachers.
    #[command(subcommand)]
    Group(GroupCommand),
    /// Post to every parent of a class (or, from the school's office, to everyone).
    Announce {
        /// The class, e.g. 5B. Without it: the whole school (the office only).
        #[arg(long)]
        class: Option<String>,
        /// The text; `-` reads it from standard input.
        text: String,
    },
    /// Whether authors of announcements are told you read them: `on` or `off` (without
    /// a value: show the setting).
    ReadReceipts {
        /// on or off.
        setting: Option<String>,
    },
    /// Send a message. To write to the teachers of a class, send to "teachers of 5B".
    Send {
        /// Send even if the school does not vouch for the recipient now (revoked,
        /// expired). Without it such a send is refused, and nothing is sent.
        #[arg(long)]
        allow_unverified: bool,
        /// Who to send to: a name from `satchel contacts`, or an account id.
        to: String,
        /// The text; `-` reads it from standard input.
        text: String,
    },
    /// Fetch, decrypt, store and print new messages; send what waits in the outbox.
    Sync,
    /// Show the conversation with someone.
    History {
        /// A name from `satchel contacts`, or an account id.
        with: String,
    },
    /// Run the Satchel app: a web page on this computer (127.0.0.1 only) for reading and
    /// writing messages, joining a school and, for the office, inviting people. Prints
    /// the address to open (it contains a secret for this launch); Ctrl+C stops it.
    App {
        /// The port on 127.0.0.1 (default: any free port).
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Open the address in the default browser.
        #[arg(long)]
        open: bool,
        /// How often to check the relay for new messages, in milliseconds.
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u64).range(100..=60_000))]
        poll_ms: u64,
    },
}

#[derive(Debug, Subcommand)]
enum GroupCommand {
    /// Create a group of a class: the school directory decides who is in it.
    Create {
        /// class-group (teachers and parents), announcement (parents read, you post)
        /// or team (you and the class's teachers).
        #[arg(long, default_value = "class-group")]
        kind: String,
        /// The class, e.g. 5B.
        #[arg(long)]
        class: String,
        /// The title everyone sees (default: from the kind and class).
        #[arg(long)]
        title: Option<String>,
        /// Class groups: parents may post too (default: only staff).
        #[arg(long)]
        parents_may_post: bool,
    },
    /// Add a person to a group you created.
    Add {
        /// The group: its title or id (a prefix of 6 characters or more).
        group: String,
        /// A name from `satchel contacts`, or an account id.
        person: String,
    },
    /// Remove a person from a group you created: they read nothing sent afterwards.
    Remove {
        /// The group.
        group: String,
        /// The person.
        person: String,
    },
    /// List your groups.
    List,
    /// Show a group: who is in it, and its messages (for an announcement, its author
    /// is told you read them, unless you switched that off).
    Show {
        /// The group.
        group: String,
    },
    /// Post in a group.
    Send {
        /// The group.
        group: String,
        /// The text; `-` reads it from standard input.
        text: String,
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
        /// The relay's address, e.g. `https://relay.school.example` (`http://` only for a
        /// relay on this machine).
        #[arg(long, value_name = "URL")]
        relay: String,
        /// The relay operator's registration token (a relay registers new schools only
        /// with it). Prefer the environment variable: command lines are visible to other
        /// users of this machine.
        #[arg(
            long,
            value_name = "TOKEN",
            env = "SATCHEL_REGISTRATION_TOKEN",
            hide_env_values = true
        )]
        registration_token: Option<String>,
    },
    /// Create a one-time invite code for a teacher, staff member or parent.
    Invite {
        /// teacher, staff or parent; or admin, for an office that runs the school from
        /// its own computer once this root device has confirmed it (`satchel sync`).
        #[arg(long, value_parser = ["teacher", "staff", "parent", "admin"])]
        role: String,
        /// The name others will see, e.g. "Ms Rivera" or "Sam's mum".
        #[arg(long)]
        name: String,
        /// A class (repeat for several), e.g. --class 5B.
        #[arg(long = "class", value_name = "CLASS")]
        classes: Vec<String>,
        /// Days the code stays usable if nobody uses it (1 to 90). Shorter is safer.
        #[arg(long, value_name = "DAYS", default_value_t = 14,
              value_parser = clap::value_parser!(u32).range(1..=i64::from(satchel_client::MAX_CODE_VALID_DAYS)))]
        valid_days: u32,
        /// Also print the code as a QR code, for the person to scan from the screen.
        #[arg(long)]
        qr: bool,
    },
    /// Revoke everyone with this name (members and unused invites), or one grant by id:
    /// their messages are no longer shown as verified, and unused codes stop working.
    Revoke {
        /// The name, as in `satchel contacts`, or a grant id (8 or more hex digits, as in
        /// `satchel school invites`).
        name: String,
    },
    /// List every invite this device issued: joined, pending, expired or revoked.
    Invites,
}

/// Why the CLI failed.
#[derive(Debug, thiserror::Error)]
enum CliError {
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error(transparent)]
    Passphrase(#[from] passphrase::PassphraseError),
    #[error(transparent)]
    App(#[from] satchel_web::WebError),
    #[error("cannot read the message from standard input: it must be UTF-8 text")]
    Stdin,
    #[error("{0}")]
    Usage(&'static str),
}

impl CliError {
    /// A stable machine-readable code for `--json` errors.
    fn code(&self) -> &'static str {
        match self {
            CliError::Client(error) => output::error_code(error),
            CliError::Passphrase(_) => "passphrase",
            CliError::App(_) => "app",
            CliError::Stdin => "stdin",
            CliError::Usage(_) => "usage",
        }
    }

    /// What to tell the person: the error, and for some the CLI's way out.
    fn message(&self) -> String {
        match self {
            CliError::Client(ClientError::RecipientNotVerified { .. }) => {
                format!("{self}. If you are sure, send again with --allow-unverified.")
            }
            _ => self.to_string(),
        }
    }
}

fn default_home() -> PathBuf {
    if let Some(data) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(data).join("satchel");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local").join("share").join("satchel")
}

fn cli_home(cli: &Cli) -> PathBuf {
    cli.home.clone().unwrap_or_else(default_home)
}

fn transport(cli: &Cli) -> Result<TransportConfig, CliError> {
    Ok(match &cli.ca_file {
        Some(path) => TransportConfig::with_ca_file(path).map_err(ClientError::from)?,
        None => TransportConfig::default(),
    })
}

fn open(cli: &Cli) -> Result<Client, CliError> {
    let home = cli_home(cli);
    let config = ClientConfig {
        key: passphrase::key_source(&home)?,
        transport: transport(cli)?,
    };
    Ok(Client::open(&home, config)?)
}

async fn run(cli: Cli) -> Result<(), CliError> {
    if let Command::App {
        port,
        open,
        poll_ms,
    } = cli.command
    {
        return app::run(
            &cli_home(&cli),
            transport(&cli)?,
            port,
            open,
            poll_ms,
            cli.json,
        )
        .await;
    }
    let mut client = open(&cli)?;
    let out = output::Output::new(cli.json);
    match cli.command {
        Command::School(SchoolCommand::Create {
            name,
            relay,
            registration_token,
        }) => {
            let me = client
                .create_school(&name, &relay, registration_token.as_deref())
                .await?;
            out.school_created(&name, &relay, &me);
        }
        Command::School(SchoolCommand::Invite {
            role,
            name,
            classes,
            valid_days,
            qr,
        }) => {
            let role = Role::parse(&role).unwrap_or(Role::Parent);
            let options = InviteOptions::new().code_valid_days(valid_days);
            let code = client.invite_with(role, &name, &classes, options).await?;
            out.invite(&code, qr);
        }
        Command::School(SchoolCommand::Invites) => out.invites(&client.invites().await?),
        Command::School(SchoolCommand::Revoke { name }) => {
            let count = client.revoke(&name).await?;
            out.revoked(&name, count);
        }
        Command::Join { code } => {
            let me = client.join(&code.join("")).await?;
            out.joined(&me);
        }
        Command::Group(command) => group(&mut client, &out, command).await?,
        Command::Announce { class, text } => {
            let text = read_text(text)?;
            let class = class.unwrap_or_default();
            let report = client.announce(&class, &text).await?;
            let to = if class.trim().is_empty() {
                "the whole school".to_string()
            } else {
                format!("the parents of {}", class.trim())
            };
            out.sent(&to, &report);
        }
        Command::ReadReceipts { setting } => {
            match setting
                .as_deref()
                .map(str::trim)
                .map(str::to_lowercase)
                .as_deref()
            {
                Some("on") => client.set_read_receipts(true)?,
                Some("off") => client.set_read_receipts(false)?,
                None => {}
                Some(_) => return Err(CliError::Usage("read-receipts takes on or off")),
            }
            out.read_receipts(client.read_receipts()?);
        }
        Command::Whoami => out.whoami(&client.whoami()?),
        Command::Contacts => out.contacts(&client.contacts().await?),
        Command::Send {
            to,
            text,
            allow_unverified,
        } => {
            let text = read_text(text)?;
            if let Some(class) = team_of(&to) {
                let report = client.send_to_class_team(class, &text).await?;
                out.sent(&to, &report);
                return Ok(());
            }
            let options = if allow_unverified {
                SendOptions::new().allow_unverified()
            } else {
                SendOptions::new()
            };
            let report = client.send_with(&to, &text, options).await?;
            out.sent(&to, &report);
        }
        Command::Sync => out.synced(&client.sync().await?),
        Command::History { with } => out.messages(&client.history(&with)?),
        Command::App { .. } => {}
    }
    Ok(())
}

/// The text argument, or standard input for `-`.
fn read_text(text: String) -> Result<String, CliError> {
    if text != "-" {
        return Ok(text);
    }
    let mut input = String::new();
    std::io::stdin()
        .read_to_string(&mut input)
        .map_err(|_| CliError::Stdin)?;
    Ok(input.trim_end_matches('\n').to_string())
}

/// The class in "teachers of 5B" (any case, surrounding spaces ignored).
fn team_of(to: &str) -> Option<&str> {
    let to = to.trim();
    let prefix = to.get(..12)?;
    prefix
        .eq_ignore_ascii_case("teachers of ")
        .then(|| to.get(12..).unwrap_or_default().trim())
        .filter(|class| !class.is_empty())
}

async fn group(
    client: &mut Client,
    out: &output::Output,
    command: GroupCommand,
) -> Result<(), CliError> {
    match command {
        GroupCommand::Create {
            kind,
            class,
            title,
            parents_may_post,
        } => {
            let kind = match kind.trim().to_lowercase().replace('_', "-").as_str() {
                "announcement" | "announcements" => GroupKind::Announcement,
                "team" | "team-thread" => GroupKind::TeamThread,
                _ => GroupKind::ClassGroup,
            };
            let info = client
                .create_group(kind, &class, title.as_deref(), parents_may_post)
                .await?;
            out.group(&info, None);
        }
        GroupCommand::Add { group, person } => {
            out.group(&client.group_add(&group, &person).await?, None);
        }
        GroupCommand::Remove { group, person } => {
            out.group(&client.group_remove(&group, &person).await?, None);
        }
        GroupCommand::List => out.groups(&client.groups()?),
        GroupCommand::Show { group } => {
            let info = client.group(&group)?;
            let members = client.group_members(&group)?;
            out.group(&info, Some(&members));
            out.messages(&client.group_history(&group)?);
            // Shown now: the announcement's author may be told (a failure to reach the
            // relay does not hide what was shown).
            match client.mark_group_read(&group).await {
                Ok(_) | Err(ClientError::Relay(_)) => {}
                Err(error) => return Err(error.into()),
            }
        }
        GroupCommand::Send { group, text } => {
            let text = read_text(text)?;
            let report = client.send_to_group(&group, &text).await?;
            let title = client.group(&group)?.title;
            out.sent(&title, &report);
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let json = cli.json;
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
            output::error(json, error.code(), &error.message());
            ExitCode::FAILURE
        }
    }
}
