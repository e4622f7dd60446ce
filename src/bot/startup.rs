//! Start-up checks: the token works, the bot is a system admin, and it belongs to the admin
//! channel and the inbox team — creating or joining them when configured to, else saying
//! exactly what an admin must do.

use crate::config::Config;
use crate::mattermost::models::{Channel, NewChannel, Team, User};
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
    if !user.is_system_admin() {
        return Err(BotError::Setup(format!(
            "the bot account @{} lacks the system_admin role, which sharebot needs to manage secure connections and move channels; \
             a system admin must grant it (System Console > User Management > Users > @{} > Manage roles, or `mmctl user role add {} system_admin`)",
            user.username, user.username, user.username
        )));
    }
    let create = config.mattermost.create_missing;
    let target = &config.mattermost.admin_channel;

    let admin_team = team(
        client,
        config,
        &target.team,
        false,
        "the admin channel's team (mattermost.admin_channel)",
    )
    .await?;
    ensure_team_member(client, config, &admin_team, &user).await?;

    let admin_channel = match client.channel_by_name(&admin_team.name, &target.channel).await {
        Ok(c) => c,
        Err(e) if e.is_not_found() && create => client
            .create_channel(&NewChannel {
                team_id: admin_team.id.clone(),
                name: target.channel.clone(),
                display_name: "sharebot admins".into(),
                channel_type: "P".into(),
                purpose: "System admins talk to @sharebot here".into(),
                header: String::new(),
            })
            .await
            .map_err(failed(config, "create the admin channel"))?,
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

    let inbox_team = team(
        client,
        config,
        &config.review.inbox_team,
        create,
        "the inbox team (review.inbox_team)",
    )
    .await?;
    ensure_team_member(client, config, &inbox_team, &user).await?;
    Ok(Identity {
        user,
        admin_team,
        admin_channel,
        inbox_team,
    })
}

/// The team named `name`, created (invite only) when missing and `create` is set.
async fn team(
    client: &Client,
    config: &Config,
    name: &str,
    create: bool,
    what: &str,
) -> Result<Team, BotError> {
    match client.team_by_name(name).await {
        Ok(t) if t.delete_at == 0 => Ok(t),
        Ok(_) => Err(BotError::Setup(format!(
            "{what} `{name}` is archived: restore it or choose another team"
        ))),
        Err(e) if e.is_not_found() && create => client
            .create_team(name, "Shared channels inbox", true)
            .await
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
