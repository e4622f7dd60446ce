//! The chaos world: Org A and Org B as in-process sandboxes, a connection Org B's bot
//! accepted (arriving channels wait in the inbox team for review), and Org B's admins logged in.

use std::time::Duration;

use crate::mattermost::models::{AcceptInvite, NewChannel, NewRemoteCluster};
use crate::mattermost::{Client, ClientOptions};
use crate::sandbox::federation::FederationOptions;
use crate::sandbox::seed::SeedUser;
use crate::sandbox::{self, RunningSandbox, SandboxOptions, Seed};

/// The password of the admins added to Org B (`admin-001`, `admin-002`).
const ADMIN_PASSWORD: &str = "Chaos@dmin-0";

/// An admin of Org B, logged in, with their DM channel with the bot.
#[derive(Clone)]
pub struct Admin {
    pub username: String,
    pub id: String,
    pub client: Client,
    pub dm: String,
}

/// A running chaos world (the replicas are started apart).
pub struct World {
    pub a: RunningSandbox,
    pub b: RunningSandbox,
    pub a_admin: Client,
    pub remote_id: String,
    pub admins: Vec<Admin>,
    pub bot_id: String,
    pub admin_channel: String,
    /// Org B's teams: (id, name, display name).
    pub teams: Vec<(String, String, String)>,
}

fn seed() -> Seed {
    let mut seed = Seed::default();
    for i in 1..=2 {
        seed.users.push(SeedUser::admin(
            format!("admin-{i:03}"),
            ADMIN_PASSWORD,
            &["engineering", "marketing", "shared-inbox"],
        ));
    }
    seed
}

async fn sandbox(name: &str, seed: Seed) -> Result<RunningSandbox, String> {
    sandbox::start(SandboxOptions {
        name: name.into(),
        seed,
        federation: FederationOptions {
            ping_interval: Duration::from_secs(1),
            ..FederationOptions::default()
        },
        ..SandboxOptions::default()
    })
    .await
    .map_err(|e| format!("cannot start the {name} sandbox: {e}"))
}

impl World {
    pub async fn start() -> Result<World, String> {
        let a = sandbox("org-a", Seed::default()).await?;
        let b = sandbox("org-b", seed()).await?;
        let (a_admin, _) = Client::login(
            a.site_url(),
            "sysadmin",
            "Sys@dmin-sample1",
            ClientOptions::default(),
        )
        .await
        .map_err(|e| format!("cannot log in to Org A: {e}"))?;
        let b_bot = Client::new(b.site_url(), b.bot_token(), ClientOptions::default())
            .map_err(|e| e.to_string())?;
        let made = a_admin
            .create_remote_cluster(&NewRemoteCluster {
                name: "org-b".into(),
                display_name: "Org B".into(),
                default_team_id: a.team_id("engineering").ok_or("no team on Org A")?,
                password: String::new(),
            })
            .await
            .map_err(|e| format!("cannot create the connection: {e}"))?;
        b_bot
            .accept_invite(&AcceptInvite {
                invite: made.invite,
                name: "org-a".into(),
                display_name: "Org A".into(),
                default_team_id: b.team_id("shared-inbox").ok_or("no inbox team")?,
                password: made.password,
            })
            .await
            .map_err(|e| format!("cannot accept the invitation: {e}"))?;
        let bot_id = b.user_id("sharebot").ok_or("no bot on Org B")?;
        let logins = [
            ("sysadmin", "Sys@dmin-sample1"),
            ("sysadmin2", "Sys@dmin-sample2"),
            ("admin-001", ADMIN_PASSWORD),
            ("admin-002", ADMIN_PASSWORD),
        ];
        let mut admins = Vec::new();
        for (username, password) in logins {
            let (client, me) =
                Client::login(b.site_url(), username, password, ClientOptions::default())
                    .await
                    .map_err(|e| format!("cannot log in {username} to Org B: {e}"))?;
            let dm = client
                .create_direct_channel(&me.id, &bot_id)
                .await
                .map_err(|e| format!("cannot open {username}'s DM with the bot: {e}"))?;
            admins.push(Admin {
                username: username.into(),
                id: me.id,
                client,
                dm: dm.id,
            });
        }
        let teams = admins[0]
            .client
            .teams()
            .await
            .map_err(|e| format!("cannot read Org B's teams: {e}"))?
            .into_iter()
            .map(|t| (t.id, t.name, t.display_name))
            .collect();
        let admin_channel = b
            .channel_id("engineering", "admins")
            .ok_or("no admin channel on Org B")?;
        Ok(World {
            a,
            b,
            a_admin,
            remote_id: made.remote_cluster.remote_id,
            admins,
            bot_id,
            admin_channel,
            teams,
        })
    }

    /// Org A makes a channel and shares it with Org B; its id (the same on both sides).
    pub async fn share(&self, name: &str) -> Result<String, String> {
        let channel = self
            .a_admin
            .create_channel(&NewChannel {
                team_id: self.a.team_id("engineering").unwrap_or_default(),
                name: name.into(),
                display_name: name.into(),
                channel_type: "O".into(),
                ..NewChannel::default()
            })
            .await
            .map_err(|e| format!("cannot create {name}: {e}"))?;
        self.a_admin
            .invite_remote_to_channel(&self.remote_id, &channel.id)
            .await
            .map_err(|e| format!("cannot share {name}: {e}"))?;
        Ok(channel.id)
    }

    pub fn team_id(&self, name: &str) -> String {
        self.teams
            .iter()
            .find(|(_, n, _)| n == name)
            .map(|(id, _, _)| id.clone())
            .unwrap_or_default()
    }

    pub async fn stop(self) {
        self.a.shutdown().await;
        self.b.shutdown().await;
    }
}
