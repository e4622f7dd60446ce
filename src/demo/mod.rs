//! `sharebot demo`: two sandbox organizations and a sharebot for each, on loopback, driven
//! through the same HTTP APIs a person's client uses, with a narrated transcript; then, unless
//! `--once`, everything keeps running for trying more by hand until Ctrl-C.

mod data_dir;
mod draw;
mod org;
mod scenario;

use std::path::PathBuf;
use std::process::ExitCode;

use self::org::{Org, ADMINS};

/// `sharebot demo` options.
#[derive(Debug, Clone, clap::Args)]
pub struct DemoArgs {
    /// Play the scenario once and exit, instead of keeping everything running afterwards.
    #[arg(long)]
    pub once: bool,
    /// Where the bots keep their SQLite files [default: a temporary folder, removed at exit].
    /// The sandboxes live in memory, so an earlier demo's files there are removed at start; a
    /// folder holding anything else is refused.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
}

/// Runs the demo; the exit code says whether every step worked.
pub async fn run(args: DemoArgs) -> ExitCode {
    let (dir, temporary) = match args.data_dir {
        Some(dir) => (dir, false),
        None => (
            std::env::temp_dir().join(format!("sharebot-demo-{}", std::process::id())),
            true,
        ),
    };
    if let Err(err) = std::fs::create_dir_all(&dir) {
        eprintln!(
            "error: cannot create the demo's data folder {}: {err}",
            dir.display()
        );
        return ExitCode::FAILURE;
    }
    match data_dir::start_fresh(&dir) {
        Ok(removed) if !removed.is_empty() => println!(
            "Starting fresh in {}: removed {} of an earlier demo (its sandboxes are gone, so its records point at nothing).",
            dir.display(),
            removed.join(", ")
        ),
        Ok(_) => {}
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::from(crate::exit::CONFIG);
        }
    }
    println!(
        "The bots' databases: {} and {}{}",
        dir.join("org-a.db").display(),
        dir.join("org-b.db").display(),
        if temporary {
            " (removed at exit; keep them with --data-dir)"
        } else {
            " (kept after exit)"
        }
    );
    let stop = crate::signals::StopSignal::install();
    println!("sharebot demo: two organizations, each with its own Mattermost (a sandbox) and its own sharebot, all on this machine.");
    let started = match start_both(&dir).await {
        Ok(orgs) => orgs,
        Err(why) => {
            eprintln!("error: {why}");
            return ExitCode::FAILURE;
        }
    };
    let (a, b) = started;
    let code = match scenario::play(&a, &b).await {
        Ok(outcome) => {
            println!();
            println!("✔ Every step worked: the organizations connected, Launch plan was accepted into Marketing, Hiring was rejected, and messages synced both ways. Roadmap waits for a decision.");
            if !args.once {
                print_how_to_continue(&a, &b, &outcome);
                stop.wait().await;
                println!("Stopping…");
            }
            ExitCode::SUCCESS
        }
        Err(why) => {
            eprintln!();
            eprintln!("✘ The demo stopped: {why}");
            ExitCode::FAILURE
        }
    };
    a.stop().await;
    b.stop().await;
    if temporary {
        let _ = std::fs::remove_dir_all(&dir);
    }
    code
}

async fn start_both(dir: &std::path::Path) -> Result<(Org, Org), String> {
    let a = Org::start("Org A", "org-a", dir).await?;
    let b = match Org::start("Org B", "org-b", dir).await {
        Ok(b) => b,
        Err(why) => {
            a.stop().await;
            return Err(why);
        }
    };
    for org in [&a, &b] {
        println!(
            "  {}: Mattermost at {} · sharebot callbacks at http://{}/mattermost/actions",
            org.label,
            org.sandbox.site_url(),
            org.bot.http_addr
        );
    }
    Ok((a, b))
}

fn print_how_to_continue(a: &Org, b: &Org, outcome: &scenario::Outcome) {
    let site = b.sandbox.site_url();
    let (login, password) = ADMINS[0];
    println!();
    println!("Everything keeps running. Carry on by hand (any HTTP client works; the web app's own calls are these):");
    for org in [a, b] {
        println!(
            "  {}: {} — admins {} / {} and {} / {}; admin channel id {}; sharebot's user id {}",
            org.label,
            org.sandbox.site_url(),
            ADMINS[0].0,
            ADMINS[0].1,
            ADMINS[1].0,
            ADMINS[1].1,
            org.admin_channel,
            org.bot_id()
        );
    }
    println!();
    println!("  # log in to Org B as {login}");
    println!("  TOKEN=$(curl -si -X POST {site}/api/v4/users/login -d '{{\"login_id\":\"{login}\",\"password\":\"{password}\"}}' | tr -d '\\r' | awk -F': ' 'tolower($1)==\"token\"{{print $2}}')");
    println!("  # ask sharebot something in the admin channel; it answers in the thread");
    println!("  curl -s -X POST {site}/api/v4/posts -H \"Authorization: Bearer $TOKEN\" -d '{{\"channel_id\":\"{}\",\"message\":\"@sharebot shared\"}}'", b.admin_channel);
    println!("  curl -s \"{site}/api/v4/channels/{}/posts?per_page=5\" -H \"Authorization: Bearer $TOKEN\"", b.admin_channel);
    let auth = "-H \"Authorization: Bearer $TOKEN\"";
    let post = &outcome.pending_post;
    println!(
        "  # {} is still waiting for review in @{login}'s DM with sharebot (DM channel {}, post {post}); read it:",
        outcome.pending_display, outcome.pending_dm_channel
    );
    println!(
        "  curl -s \"{site}/api/v4/channels/{}/posts?per_page=5\" {auth}",
        outcome.pending_dm_channel
    );
    let teams: Vec<String> = outcome
        .teams
        .iter()
        .map(|(name, id)| format!("{name} {id}"))
        .collect();
    let first_team = outcome
        .teams
        .first()
        .map(|(_, id)| id.as_str())
        .unwrap_or_default();
    println!(
        "  # pick a team in its menu (action team; {}), then press Accept…",
        teams.join(", ")
    );
    println!("  curl -s -X POST {site}/api/v4/posts/{post}/actions/team {auth} -d '{{\"selected_option\":\"{first_team}\"}}'");
    println!("  curl -s -X POST {site}/api/v4/posts/{post}/actions/accept {auth} -d '{{}}'");
    println!("  # …or press Reject instead");
    println!("  curl -s -X POST {site}/api/v4/posts/{post}/actions/reject {auth} -d '{{}}'");
    println!("  # then the DM (every admin's copy) shows the decision");
    println!("  curl -s {site}/api/v4/posts/{post} {auth}");
    println!("  # move the accepted Launch plan to another team, by command");
    println!("  curl -s -X POST {site}/api/v4/posts {auth} -d '{{\"channel_id\":\"{}\",\"message\":\"@sharebot move ~launch-plan to engineering\"}}'", b.admin_channel);
    println!("  The private line each click gets (seen only by the clicker) and the dialog of Choose team… (action choose)");
    println!("  arrive over the WebSocket (/api/v4/websocket), as a web client receives them; curl does not show them,");
    println!("  so read the DM again to see what a click changed.");
    println!(
        "  (the accepted channel's id is {}; the rejected one's {})",
        outcome.accepted_channel, outcome.rejected_channel
    );
    println!();
    println!("Press Ctrl-C to stop everything.");
}
