//! The bot's own REST client driving two federated sandboxes: every secure-connection and
//! shared-channel call sharebot makes decodes what a server sends and does what it says.

mod support;

use support::harness::{self, BOT_TOKEN};
use support::sandbox::eventually;

use sharebot::mattermost::models::{
    AcceptInvite, NewChannel, NewRemoteCluster, Post, RemoteClusterFilter, RemoteClusterPatch,
    SharedChannelRemoteFilter,
};
use sharebot::mattermost::{ChannelPostsQuery, Client, ClientOptions, Error};
use sharebot::sandbox::recorder::Recorder;
use sharebot::sandbox::{RunningSandbox, SandboxOptions};

async fn instance(name: &str, recorder: &Recorder) -> (RunningSandbox, Client) {
    let sandbox = harness::start(SandboxOptions {
        name: name.into(),
        recorder: Some(recorder.clone()),
        federation: harness::quick_federation(),
        ..SandboxOptions::default()
    })
    .await;
    let client = Client::new(sandbox.site_url(), BOT_TOKEN, ClientOptions::default()).unwrap();
    (sandbox, client)
}

#[tokio::test]
async fn the_client_creates_accepts_shares_and_stops_sharing() {
    let recorder = Recorder::default();
    let (alpha, a) = instance("org-alpha", &recorder).await;
    let (beta, b) = instance("org-beta", &recorder).await;
    let engineering = alpha.team_id("engineering").unwrap();
    let inbox = beta.team_id("shared-inbox").unwrap();

    let created = a
        .create_remote_cluster(&NewRemoteCluster {
            name: "org-b".into(),
            display_name: "Org B".into(),
            default_team_id: engineering.clone(),
            password: String::new(),
        })
        .await
        .unwrap();
    assert!(!created.remote_cluster.is_confirmed());
    assert_eq!(created.password.len(), 16);
    let remote_id = created.remote_cluster.remote_id.clone();

    // A wrong password is the server's 400, typed.
    let mut accept = AcceptInvite {
        invite: created.invite.clone(),
        name: "org-a".into(),
        display_name: "Org A".into(),
        default_team_id: inbox.clone(),
        password: "wrong".into(),
    };
    match b.accept_invite(&accept).await {
        Err(Error::Api { status, id, .. }) => {
            assert_eq!(status, 400);
            assert_eq!(id, "api.remote_cluster.invite_decrypt_error");
        }
        other => panic!("expected the server's refusal, got {other:?}"),
    }
    accept.password = created.password.clone();
    let accepted = b.accept_invite(&accept).await.unwrap();
    assert_eq!(accepted.remote_id, remote_id);
    assert!(accepted.is_confirmed());

    let now = || sharebot::ids::now_ms();
    for client in [&a, &b] {
        eventually("online on both sides", || async {
            let list = client
                .list_remote_clusters(&RemoteClusterFilter {
                    exclude_offline: true,
                    only_confirmed: true,
                    ..RemoteClusterFilter::default()
                })
                .await
                .unwrap();
            (list.len() == 1 && list[0].is_online(now())).then_some(())
        })
        .await;
    }
    let patched = a
        .patch_remote_cluster(
            &remote_id,
            &RemoteClusterPatch {
                display_name: Some("Organisation B".into()),
                default_team_id: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(patched.display_name, "Organisation B");

    // Share a channel; it arrives on beta, where the bot (the connection's creator) has it.
    let channel = a
        .create_channel(&NewChannel {
            team_id: engineering.clone(),
            name: "launch".into(),
            display_name: "Launch".into(),
            channel_type: "O".into(),
            ..NewChannel::default()
        })
        .await
        .unwrap();
    a.invite_remote_to_channel(&remote_id, &channel.id)
        .await
        .unwrap();
    let received = eventually("the channel on beta", || async {
        b.get_channel(&channel.id).await.ok()
    })
    .await;
    assert_eq!(received.team_id, inbox);
    assert_eq!(received.creator_id, beta.user_id("sharebot").unwrap());
    let links = eventually("the confirmed link", || async {
        let links = a
            .shared_channel_remotes(&remote_id, &SharedChannelRemoteFilter::default())
            .await
            .unwrap();
        (!links.is_empty()).then_some(links)
    })
    .await;
    assert_eq!(links[0].channel_id, channel.id);
    let shared = b.shared_channels_for_team(&inbox).await.unwrap();
    assert_eq!(shared[0].id, channel.id);
    assert!(!shared[0].home);
    assert_eq!(shared[0].remote_id, remote_id);
    assert_eq!(b.remote_info(&remote_id).await.unwrap().name, "org-a");
    assert_eq!(
        a.channel_remotes(&channel.id).await.unwrap()[0].name,
        "org-b"
    );

    // A post by alpha's bot reaches beta.
    a.create_post(&Post {
        channel_id: channel.id.clone(),
        message: "shipped".into(),
        ..Post::default()
    })
    .await
    .unwrap();
    eventually("the post on beta", || async {
        let list = b
            .channel_posts(&channel.id, &ChannelPostsQuery::default())
            .await
            .unwrap();
        list.posts
            .values()
            .any(|p| p.message == "shipped")
            .then_some(())
    })
    .await;

    // Stop sharing from beta's side, then delete the connection on alpha.
    assert!(b
        .uninvite_remote_from_channel(&remote_id, &channel.id)
        .await
        .unwrap());
    assert!(!b
        .uninvite_remote_from_channel(&remote_id, &channel.id)
        .await
        .unwrap());
    assert_eq!(
        b.get_channel(&channel.id).await.unwrap().shared,
        Some(false)
    );
    a.delete_remote_cluster(&remote_id).await.unwrap();
    assert!(a.get_remote_cluster(&remote_id).await.unwrap().delete_at > 0);

    support::openapi::assert_conforms(&recorder);
    alpha.shutdown().await;
    beta.shutdown().await;
}
