//! Destination teams the server would refuse: the accept stops before anything is added and
//! the admin is told which rule stops it and what an admin can do (issue 18, item 8).

mod support;

use reqwest::Method;
use serde_json::{json, Value};
use sharebot::mattermost::models::{Post, User};
use sharebot::store::RequestState;
use support::harness;
use support::world::*;

/// One call to Org B as its system admin; panics unless the server says yes.
async fn as_admin(world: &World, method: Method, path: &str, body: Option<Value>) -> Value {
    let token = session(&world.b, "sysadmin", "Sys@dmin-sample1").await;
    let (status, answer) =
        harness::call(world.b.site_url(), method, path, Some(&token), body).await;
    assert!(status.is_success(), "{path}: {status} {answer}");
    answer
}

/// Clicks Accept for `team` on whichever copy of `admin` offers the buttons again, then
/// waits for the failure DM containing `expect`; returns it.
async fn accept_fails(world: &World, admin: &Admin, team: &str, expect: &str) -> String {
    let bot_id = bot_id(world);
    let store = world.store().await;
    wait("the request pending again", || async {
        let r = store.pending_requests().await.unwrap().pop()?;
        r.deciding.is_none().then_some(())
    })
    .await;
    let post = wait("the buttons", || async {
        admin
            .review_dm(&bot_id, "Launch plan")
            .await
            .filter(|p| action_ids(p).contains(&"accept".to_string()))
    })
    .await;
    let before = admin.dm_posts(&bot_id).await.len();
    let (status, answer) = admin.click(&post.id, "team", Some(team)).await;
    assert_eq!(status, 200, "{answer}");
    let (status, answer) = admin.click(&post.id, "accept", None).await;
    assert_eq!(status, 200, "{answer}");
    if answer.to_string().contains("Pick a team") {
        // The menu no longer offers it: refused before anything was done.
        return answer.to_string();
    }
    wait(expect, || async {
        admin
            .dm_posts(&bot_id)
            .await
            .into_iter()
            .skip(before)
            .find(|p| p.message.contains("could not move"))
            .map(|p| p.message)
    })
    .await
}

#[tokio::test]
async fn a_destination_team_the_server_would_refuse_stops_the_accept_before_anyone_is_added() {
    let world = World::new(MadeBy::Console, "shared-inbox", &[]).await;
    let channel = world.share("launch-plan", "Launch plan").await;
    let bot = world.start_bot().await;
    let (one, _, _, _) = both_dms(&world, "Launch plan").await;
    let b = world.b_bot();
    // A synced user from Org A (a random email on this server) and a local user of the
    // inbox with a company address are in the channel.
    world
        .a_admin
        .create_post(&Post {
            channel_id: channel.clone(),
            message: "hello from A".into(),
            ..Post::default()
        })
        .await
        .unwrap();
    let synced: User = wait("the synced user in the channel", || async {
        let members = b.channel_members(&channel).await.unwrap();
        let ids: Vec<String> = members.iter().map(|m| m.user_id.clone()).collect();
        b.users_by_ids(&ids)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.remote_id.as_deref().is_some_and(|r| !r.is_empty()))
    })
    .await;
    let inbox = world.b.team_id("shared-inbox").unwrap();
    let local = world.b.user_id("user-1").unwrap();
    one.client.add_team_member(&inbox, &local).await.unwrap();
    one.client
        .add_channel_member(&channel, &local)
        .await
        .unwrap();
    let marketing = world.b.team_id("marketing").unwrap();
    let patch = format!("/api/v4/teams/{marketing}/patch");
    let nobody_added = || async {
        assert!(
            b.team_member(&marketing, &local).await.is_err(),
            "nobody joins a team the move cannot go to"
        );
        assert_ne!(channel_on_b(&world, &channel).await.team_id, marketing);
    };

    // The team's allowed domains.
    as_admin(
        &world,
        Method::PUT,
        &patch,
        Some(json!({"allowed_domains": "sandbox.test"})),
    )
    .await;
    let dm = accept_fails(&world, &one, &marketing, "allowed domains").await;
    assert!(
        dm.contains("sandbox.test") && dm.contains("allowed domains"),
        "{dm}"
    );
    assert!(dm.contains(&format!("@{}", synced.username)), "{dm}");
    assert!(dm.contains("Team Settings"), "{dm}");
    nobody_added().await;
    as_admin(
        &world,
        Method::PUT,
        &patch,
        Some(json!({"allowed_domains": ""})),
    )
    .await;

    // The server-wide domain restriction.
    as_admin(
        &world,
        Method::PUT,
        "/api/v4/config/patch",
        Some(json!({"TeamSettings": {"RestrictCreationToDomains": "sandbox.test"}})),
    )
    .await;
    let dm = accept_fails(&world, &one, &marketing, "RestrictCreationToDomains").await;
    assert!(dm.contains("RestrictCreationToDomains"), "{dm}");
    nobody_added().await;
    as_admin(
        &world,
        Method::PUT,
        "/api/v4/config/patch",
        Some(json!({"TeamSettings": {"RestrictCreationToDomains": ""}})),
    )
    .await;

    // A team managed by groups.
    as_admin(
        &world,
        Method::PUT,
        &patch,
        Some(json!({"group_constrained": true})),
    )
    .await;
    let dm = accept_fails(&world, &one, &marketing, "managed by groups").await;
    assert!(dm.contains("managed by groups"), "{dm}");
    nobody_added().await;
    as_admin(
        &world,
        Method::PUT,
        &patch,
        Some(json!({"group_constrained": false})),
    )
    .await;

    // A team with room for one more (the local user) but not two.
    let count = as_admin(
        &world,
        Method::GET,
        &format!("/api/v4/teams/{marketing}/members?exclude_deleted_users=true"),
        None,
    )
    .await
    .as_array()
    .map(Vec::len)
    .unwrap();
    as_admin(
        &world,
        Method::PUT,
        "/api/v4/config/patch",
        Some(json!({"TeamSettings": {"MaxUsersPerTeam": count + 1}})),
    )
    .await;
    let dm = accept_fails(&world, &one, &marketing, "MaxUsersPerTeam").await;
    assert!(
        dm.contains("MaxUsersPerTeam") && dm.contains(&format!("limit of {}", count + 1)),
        "{dm}"
    );
    nobody_added().await;
    as_admin(
        &world,
        Method::PUT,
        "/api/v4/config/patch",
        Some(json!({"TeamSettings": {"MaxUsersPerTeam": 50}})),
    )
    .await;

    // An archived team is never a destination, even when the click's menu still shows it.
    as_admin(
        &world,
        Method::DELETE,
        &format!("/api/v4/teams/{marketing}"),
        None,
    )
    .await;
    let said = accept_fails(&world, &one, &marketing, "archived").await;
    assert!(
        said.contains("archived") || said.contains("Pick a team"),
        "{said}"
    );
    nobody_added().await;

    // Another team works, with everyone in it.
    let engineering = world.b.team_id("engineering").unwrap();
    let store = world.store().await;
    wait("the request pending again", || async {
        let r = store.requests_for_channel(&channel).await.unwrap().pop()?;
        (r.state == RequestState::Pending && r.deciding.is_none()).then_some(())
    })
    .await;
    let post = wait("the buttons", || async {
        one.review_dm(&bot_id(&world), "Launch plan")
            .await
            .filter(|p| action_ids(p).contains(&"accept".to_string()))
    })
    .await;
    one.click(&post.id, "team", Some(&engineering)).await;
    one.click(&post.id, "accept", None).await;
    dm_showing(&world, &one, "Launch plan", "accepted into **Engineering**").await;
    b.team_member(&engineering, &synced.id).await.unwrap();
    b.team_member(&engineering, &local).await.unwrap();
    bot.shutdown().await.unwrap();
}
