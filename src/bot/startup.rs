//! Start-up checks: the token is a bot's, the bot is a system admin, and it belongs to the
//! admin channel (private) and the inbox team — creating or joining them when configured to,
//! else saying exactly what an admin must do — and, on a fresh connection, that those places
//! are still the ones it started with.

use crate::config::Config;
use crate::mattermost::models::{Channel, NewChannel, Post, Team, User};
use crate::mattermost::{Client, Error};

use super::BotError;

/// What the bot learned about itself and its places at start.
#[derive(Debug, Clone)]
pub struct Identity {
    pub user: User,
    pub admin_team: Team,
    pub admin_channel: Channel,
    pub inbox_team: Team,
}

fn failed<'a>(config: &'a Config, doing: &'static str) -> impl Fn(Error) -> BotError + 'a {
    move |source| match source.status() {
        Some(status @ (401 | 403)) if doing == "read the bot's own account" => {
            BotError::TokenRefused {
                status,
                message: source.user_message(),
            }
        }
        _ => BotError::Mattermost {
            doing,
            url: config.mattermost.url.clone(),
            source,
        },
    }
}

/// Runs every check in order; the first problem stops start-up.
pub async fn verify(client: &Client, config: &Config) -> Result<Identity, BotError> {
    let user = client
        .me()
        .await
        .map_err(failed(config, "read the bot's own account"))?;
    if !user.is_bot {
        return Err(BotError::Setup(format!(
            "the token in mattermost.token (SHAREBOT_MATTERMOST__TOKEN) belongs to @{}, a person's account, not a bot: \
             every post and decision of sharebot would look like that person's. Create a bot account \
             (System Console > Integrations > Bot Accounts), give it the system_admin role, and use its access token",
            user.username
        )));
    }
    if !user.is_system_admin() {
        return Err(BotError::Setup(format!(
            "the bot account @{} lacks the system_admin role, which sharebot needs to manage secure connections and move channels; \
             a system admin must grant it (System Console > User Management > Users > @{} > Manage roles, or `mmctl user role add {} system_admin`)",
            user.username, user.username, user.username
        )));
    }
    let create = config.mattermost.create_missing;
    let target = &config.mattermost.admin_channel;

    let (admin_team, _) = team(
        client,
        config,
        &target.team,
        false,
        "the admin channel's team (mattermost.admin_channel)",
    )
    .await?;
    ensure_team_member(client, config, &admin_team, &user).await?;

    let mut created = Vec::new();
    let admin_channel = match client.channel_by_name(&admin_team.name, &target.channel).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() && create => {
            let channel = client
            .create_channel(&NewChannel {
                team_id: admin_team.id.clone(),
                name: target.channel.clone(),
                display_name: "sharebot admins".into(),
                channel_type: "P".into(),
                purpose: "System admins talk to @sharebot here".into(),
                header: String::new(),
            })
            .await
            .map_err(failed(config, "create the admin channel"))?;
            created.push(Created::AdminChannel);
            channel
        }
        Err(e) if e.is_not_found() => {
            return Err(BotError::Setup(format!(
                "the admin channel {target} (mattermost.admin_channel) does not exist: create it (a private channel is best) \
                 and add @{} to it, or set mattermost.create_missing = true",
                user.username
            )))
        }
        Err(e) => return Err(failed(config, "read the admin channel")(e)),
    };
    if admin_channel.delete_at != 0 {
        return Err(BotError::Setup(format!(
            "the admin channel {target} (mattermost.admin_channel) is archived: restore it or choose another channel"
        )));
    }
    if admin_channel.channel_type != "P" {
        return Err(BotError::Setup(format!(
            "the admin channel {target} (mattermost.admin_channel) is public: anyone on the team could join it and read \
             the invite codes and review buttons posted there. Make it private (channel menu > Convert to Private Channel, \
             or `mmctl channel modify --private {target}`) or choose a private channel"
        )));
    }
    match client.channel_member(&admin_channel.id, &user.id).await {
        Ok(_) => {}
        Err(e) if e.is_not_found() && create => {
            client
                .add_channel_member(&admin_channel.id, &user.id)
                .await
                .map_err(failed(config, "join the admin channel"))?;
        }
        Err(e) if e.is_not_found() => {
            return Err(BotError::Setup(format!(
                "@{} is not a member of the admin channel {target}: add it (`/invite @{}` in that channel), \
                 or set mattermost.create_missing = true",
                user.username, user.username
            )))
        }
        Err(e) => return Err(failed(config, "check the admin channel membership")(e)),
    }

    let (inbox_team, inbox_created) = team(
        client,
        config,
        &config.review.inbox_team,
        create,
        "the inbox team (review.inbox_team)",
    )
    .await?;
    if inbox_created {
        created.push(Created::InboxTeam);
    }
    ensure_team_member(client, config, &inbox_team, &user).await?;
    let identity = Identity {
        user,
        admin_team,
        admin_channel,
        inbox_team,
    };
    if !created.is_empty() {
        add_admins_to_created(client, config, &identity, &created).await?;
    }
    warn_about_non_admins(client, &identity, config).await;
    Ok(identity)
}

/// What start-up created because `mattermost.create_missing` is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Created {
    AdminChannel,
    InboxTeam,
}

/// Adds every current system admin (people, not bots) to what start-up created — to the
/// admin channel's team first where they are not in it — then says what was created, in the
/// log and in the admin channel.
async fn add_admins_to_created(
    client: &Client,
    config: &Config,
    identity: &Identity,
    created: &[Created],
) -> Result<(), BotError> {
    let admins: Vec<User> = client
        .list_system_admins()
        .await
        .map_err(failed(config, "list the system admins"))?
        .into_iter()
        .filter(|u| u.id != identity.user.id && !u.is_bot && u.remote_id.is_none())
        .collect();
    for admin in &admins {
        for what in created {
            let (team, channel) = match what {
                Created::AdminChannel => (&identity.admin_team, Some(&identity.admin_channel)),
                Created::InboxTeam => (&identity.inbox_team, None),
            };
            let in_team =
                matches!(client.team_member(&team.id, &admin.id).await, Ok(m) if m.delete_at == 0);
            if !in_team {
                client
                    .add_team_member(&team.id, &admin.id)
                    .await
                    .map_err(failed(config, "add a system admin to a team"))?;
            }
            if let Some(channel) = channel {
                client
                    .add_channel_member(&channel.id, &admin.id)
                    .await
                    .map_err(failed(config, "add a system admin to the admin channel"))?;
            }
        }
    }
    let names = if admins.is_empty() {
        "no system admin besides the bot was found to add".to_string()
    } else {
        let list: Vec<String> = admins.iter().map(|a| format!("@{}", a.username)).collect();
        format!("with every system admin: {}", list.join(", "))
    };
    let mut lines = Vec::new();
    for what in created {
        lines.push(match what {
            Created::AdminChannel => format!(
                "the private channel ~{} in team `{}`, for @{} commands",
                identity.admin_channel.name, identity.admin_team.name, identity.user.username
            ),
            Created::InboxTeam => format!(
                "the invite-only team `{}`, where shared channels wait for review",
                identity.inbox_team.name
            ),
        });
    }
    let what = lines.join(" and ");
    tracing::info!(created = %what, admins = %names, "created what was missing (mattermost.create_missing = true)");
    let message = format!("I created {what} (`mattermost.create_missing = true`), {names}.");
    post_notice(client, identity, message).await;
    Ok(())
}

/// Warns, in the log and in the admin channel, when people who are not system admins are in
/// the admin channel: they read every invite code and review posted there. Bots that are not
/// system admins count too (whoever holds their token reads the channel); the bot itself and
/// bots with the system_admin role do not. A failure to read the members is only logged.
async fn warn_about_non_admins(client: &Client, identity: &Identity, config: &Config) {
    let members = match client
        .active_users_in_channel(&identity.admin_channel.id)
        .await
    {
        Ok(members) => members,
        Err(err) => {
            tracing::warn!("cannot read the admin channel's members to check that they are all system admins: {err}");
            return;
        }
    };
    let outsiders: Vec<String> = members
        .iter()
        .filter(|u| u.id != identity.user.id && u.is_active() && !u.is_system_admin())
        .map(|u| {
            if u.is_bot {
                format!("@{} (a bot)", u.username)
            } else {
                format!("@{}", u.username)
            }
        })
        .collect();
    if outsiders.is_empty() {
        return;
    }
    let list = outsiders.join(", ");
    let target = &config.mattermost.admin_channel;
    tracing::warn!(
        admin_channel = %target,
        members = %list,
        "the admin channel has members who are not system admins: they can read invite codes and review requests posted there; remove them or make them system admins"
    );
    post_notice(
        client,
        identity,
        format!(
            ":warning: This channel has members who are not system admins: {list}. They can read the invite codes and \
             review requests posted here, but not act on them. Remove them from the channel, or make them system admins."
        ),
    )
    .await;
}

/// Posts `message` in the admin channel as the bot; a failure is only logged.
async fn post_notice(client: &Client, identity: &Identity, message: String) {
    let post = Post {
        channel_id: identity.admin_channel.id.clone(),
        message,
        ..Post::default()
    };
    if let Err(err) = client.create_post(&post).await {
        tracing::warn!("cannot post a start-up notice in the admin channel: {err}");
    }
}

/// On a fresh connection (the server may have been rebuilt or restored from a backup under
/// the running bot), checks that the bot account, the admin channel and the inbox team are
/// still the ones found at start. `Some(why and what to do)` when one is gone or replaced;
/// `None` when all are there or the server could not say (an unreachable server is the
/// WebSocket's business, not this check's).
pub async fn recheck(client: &Client, config: &Config, identity: &Identity) -> Option<String> {
    let mut gone = Vec::new();
    match client.me().await {
        Ok(me) if me.id == identity.user.id => {}
        Ok(me) => gone.push(format!(
            "the bot account @{} (the token now belongs to another account, @{})",
            identity.user.username, me.username
        )),
        Err(e) if matches!(e.status(), Some(401 | 403)) => gone.push(format!(
            "the bot account @{} (Mattermost no longer accepts its token: check mattermost.token)",
            identity.user.username
        )),
        Err(_) => return None,
    }
    match client.get_channel(&identity.admin_channel.id).await {
        Ok(c) if c.delete_at == 0 => {}
        Ok(_) => gone.push(format!(
            "the admin channel {} (archived)",
            config.mattermost.admin_channel
        )),
        Err(e) if e.is_not_found() || matches!(e.status(), Some(401 | 403)) => gone.push(format!(
            "the admin channel {}",
            config.mattermost.admin_channel
        )),
        Err(_) => return None,
    }
    match client.get_team(&identity.inbox_team.id).await {
        Ok(t) if t.delete_at == 0 => {}
        Ok(_) => gone.push(format!(
            "the inbox team `{}` (archived)",
            identity.inbox_team.name
        )),
        Err(e) if e.is_not_found() || matches!(e.status(), Some(401 | 403)) => {
            gone.push(format!("the inbox team `{}`", identity.inbox_team.name))
        }
        Err(_) => return None,
    }
    if gone.is_empty() {
        return None;
    }
    Some(format!(
        "Mattermost no longer has what sharebot started with: {}. Was the server rebuilt or restored from a backup? \
         Restart sharebot so that it finds its places again (set them up as at first start, or set mattermost.create_missing = true)",
        gone.join("; ")
    ))
}

/// The team named `name`, created (invite only) when missing and `create` is set; true when
/// it was created.
async fn team(
    client: &Client,
    config: &Config,
    name: &str,
    create: bool,
    what: &str,
) -> Result<(Team, bool), BotError> {
    match client.team_by_name(name).await {
        Ok(t) if t.delete_at == 0 => Ok((t, false)),
        Ok(_) => Err(BotError::Setup(format!(
            "{what} `{name}` is archived: restore it or choose another team"
        ))),
        Err(e) if e.is_not_found() && create => client
            .create_team(name, "Shared channels inbox", true)
            .await
            .map(|t| (t, true))
            .map_err(failed(config, "create the inbox team")),
        Err(e) if e.is_not_found() => Err(BotError::Setup(if what.starts_with("the inbox") {
            format!(
                "{what} `{name}` does not exist: create a private (invite only) team with that URL name for channels awaiting review, \
                 or set mattermost.create_missing = true"
            )
        } else {
            format!("{what} `{name}` does not exist: check the team name in the channel's URL")
        })),
        Err(e) => Err(failed(config, "read a team")(e)),
    }
}

async fn ensure_team_member(
    client: &Client,
    config: &Config,
    team: &Team,
    user: &User,
) -> Result<(), BotError> {
    match client.team_member(&team.id, &user.id).await {
        Ok(m) if m.delete_at == 0 => Ok(()),
        Ok(_) | Err(_) if config.mattermost.create_missing => client
            .add_team_member(&team.id, &user.id)
            .await
            .map(|_| ())
            .map_err(failed(config, "join a team")),
        Ok(_) => Err(not_member(team, user)),
        Err(e) if e.is_not_found() => Err(not_member(team, user)),
        Err(e) => Err(failed(config, "check team membership")(e)),
    }
}

fn not_member(team: &Team, user: &User) -> BotError {
    BotError::Setup(format!(
        "@{} is not a member of the team `{}`: add it (Main Menu > Add Members to Team), or set mattermost.create_missing = true",
        user.username, team.name
    ))
}
