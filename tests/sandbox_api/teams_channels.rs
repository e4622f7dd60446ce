//! Teams, channels, memberships and direct channels, read and created as the server answers.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::harness::Sandbox;

#[tokio::test]
async fn teams_and_channels_are_read_as_the_server_answers() {
    let env = Sandbox::start().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let (_, teams) = env
        .call(Method::GET, "/api/v4/teams", Some("bottoken"), None)
        .await;
    assert_eq!(teams.as_array().unwrap().len(), 3);
    let (_, teams) = env
        .call(Method::GET, "/api/v4/teams", Some(&user), None)
        .await;
    let names: Vec<&str> = teams
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["engineering", "marketing"],
        "the invite-only inbox is hidden"
    );
    assert_eq!(teams[0]["email"], "", "sanitised for non-admins");

    let (status, inbox) = env
        .call(
            Method::GET,
            "/api/v4/teams/name/shared-inbox",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(inbox["type"], "I");
    assert_eq!(inbox["allow_open_invite"], false);
    let inbox_id = inbox["id"].as_str().unwrap();
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{inbox_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, member) = env
        .call(
            Method::POST,
            &format!("/api/v4/teams/{inbox_id}/members"),
            Some("bottoken"),
            Some(json!({"team_id": inbox_id, "user_id": env.id("user-1")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(member["user_id"], env.id("user-1"));
    let (_, members) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{inbox_id}/members"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 4);

    let (status, channel) = env
        .call(
            Method::GET,
            "/api/v4/teams/name/engineering/channels/name/town-square",
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(channel["display_name"], "Town Square");
    let team = env.sandbox.team_id("engineering").unwrap();
    let (_, public) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team}/channels"),
            Some(&user),
            None,
        )
        .await;
    let names: Vec<&str> = public
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        ["off-topic", "town-square"],
        "private channels are not listed"
    );

    let (status, created) = env
        .call(
            Method::POST,
            "/api/v4/channels",
            Some(&user),
            Some(
                json!({"team_id": team, "name": "release", "display_name": "Release", "type": "O"}),
            ),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(created["creator_id"], env.id("user-1"));
    let channel_id = created["id"].as_str().unwrap().to_string();
    env.call_err(
        Method::POST,
        "/api/v4/channels",
        Some(&user),
        Some(json!({"team_id": team, "name": "release", "display_name": "Release", "type": "O"})),
        400,
        "store.sql_channel.save_channel.exists.app_error",
    )
    .await;

    let (status, member) = env
        .call(
            Method::POST,
            &format!("/api/v4/channels/{channel_id}/members"),
            Some(&user),
            Some(json!({"user_id": env.id("sysadmin")})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(member["scheme_admin"], false);
    let (_, posts) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some(&user),
            None,
        )
        .await;
    let first = &posts["posts"][posts["order"][0].as_str().unwrap()];
    assert_eq!(first["type"], "system_add_to_channel");
    let (status, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/members/{}", env.id("user-1")),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(member["scheme_admin"], true);

    let (status, body) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/channels/{channel_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body, json!({"status": "OK"}));
    let (_, archived) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}"),
            Some(&user),
            None,
        )
        .await;
    assert!(archived["delete_at"].as_i64().unwrap() > 0);
    env.finish().await;
}

#[tokio::test]
async fn a_direct_channel_is_created_once_and_carries_posts() {
    let env = Sandbox::start().await;
    let pair = json!([env.id("sharebot"), env.id("sysadmin")]);
    let (status, first) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some("bottoken"),
            Some(pair.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(first["type"], "D");
    assert_eq!(first["team_id"], "");
    let mut ids = [env.id("sharebot"), env.id("sysadmin")];
    ids.sort();
    assert_eq!(first["name"], format!("{}__{}", ids[0], ids[1]));
    let (status, second) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some("bottoken"),
            Some(pair),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(second["id"], first["id"]);

    let channel_id = first["id"].as_str().unwrap();
    let (status, post) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": "hello"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(post["user_id"], env.id("sharebot"));
    let (status, reply) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some("bottoken"),
            Some(json!({"channel_id": channel_id, "message": "again", "root_id": post["id"]})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, list) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list["order"], json!([reply["id"], post["id"]]));
    assert_eq!(
        list["posts"][post["id"].as_str().unwrap()]["message"],
        "hello"
    );
    assert_eq!(list["has_next"], false);
    let since = reply["create_at"].as_i64().unwrap();
    let (status, recent) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts?since={since}&page=0&per_page=60"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{recent}");
    assert!(recent["order"].as_array().unwrap().contains(&reply["id"]));
    let (status, page) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts?page=1&per_page=1"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["order"], json!([post["id"]]));

    let user = env.login("user-1", "SampleUs@r-1").await;
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/channels/{channel_id}/posts"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = env
        .call(
            Method::POST,
            "/api/v4/posts",
            Some(&user),
            Some(json!({"channel_id": channel_id, "message": "intruder"})),
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    env.finish().await;
}

#[tokio::test]
async fn teams_are_created_and_single_memberships_read_as_the_server_answers() {
    let env = Sandbox::start().await;
    let admin = env.login("sysadmin", "Sys@dmin-sample1").await;
    let (status, team) = env
        .call(
            Method::POST,
            "/api/v4/teams",
            Some(&admin),
            Some(json!({"name": "review-inbox", "display_name": "Review inbox", "type": "I"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{team}");
    assert_eq!(team["type"], "I");
    assert_eq!(team["allow_open_invite"], false);
    let team_id = team["id"].as_str().unwrap().to_string();

    let me = env.id("sysadmin");
    let (status, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team_id}/members/{me}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{member}");
    assert_eq!(
        member["scheme_admin"], true,
        "the creator administers the team"
    );

    let other = env.id("sysadmin2");
    env.call_err(
        Method::GET,
        &format!("/api/v4/teams/{team_id}/members/{other}"),
        Some(&admin),
        None,
        404,
        "app.team.get_member.missing.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        "/api/v4/teams",
        Some(&admin),
        Some(json!({"name": "review-inbox", "display_name": "Again", "type": "O"})),
        400,
        "app.team.save.existing.app_error",
    )
    .await;

    env.call_err(
        Method::POST,
        "/api/v4/teams",
        Some(&admin),
        Some(json!({"name": "Bad Name!", "display_name": "x", "type": "O"})),
        400,
        "model.team.is_valid.characters.app_error",
    )
    .await;

    // A plain user cannot read memberships of a team it cannot see.
    let user = env.login("user-1", "SampleUs@r-1").await;
    let (status, _) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team_id}/members/{me}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    env.finish().await;
}

#[tokio::test]
async fn a_users_channels_of_every_team_include_its_direct_messages() {
    let env = Sandbox::start().await;
    let pair = json!([env.id("sharebot"), env.id("sysadmin")]);
    let (_, dm) = env
        .call(
            Method::POST,
            "/api/v4/channels/direct",
            Some("bottoken"),
            Some(pair),
        )
        .await;
    let (status, list) = env
        .call(
            Method::GET,
            "/api/v4/users/me/channels",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let list = list.as_array().unwrap();
    assert!(list.iter().any(|c| c["id"] == dm["id"] && c["type"] == "D"));
    assert!(
        list.iter().any(|c| c["name"] == "admins"),
        "team channels too"
    );
    let ids: Vec<&str> = list.iter().map(|c| c["id"].as_str().unwrap()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(
        ids, sorted,
        "ordered by id, as the server's store reads them"
    );

    // Another user's list is for that user or an admin only.
    let user = env.login("user-1", "SampleUs@r-1").await;
    env.call_err(
        Method::GET,
        &format!("/api/v4/users/{}/channels", env.id("sharebot")),
        Some(&user),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::GET,
        "/api/v4/users/me/channels?last_delete_at=-1",
        Some(&user),
        None,
        400,
        "api.context.invalid_url_param.app_error",
    )
    .await;
    env.finish().await;
}

/// The server's join rules (`JoinUserToTeam`, `IsTeamEmailAllowed`, `addTeamMember`): a
/// team's allowed domains and `RestrictCreationToDomains` (bots exempt, existing members
/// too checked), a group-constrained team, `MaxUsersPerTeam`, and an archived team that
/// leaves the lists but still answers by id.
#[tokio::test]
async fn joining_a_team_follows_the_servers_domain_group_and_size_rules() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let team = env.team("marketing");
    let user = env.id("user-1");
    let add = |user: String| json!({"team_id": team, "user_id": user});
    let members = format!("/api/v4/teams/{team}/members");
    let patch = format!("/api/v4/teams/{team}/patch");

    // user-1@sandbox.test is outside example.com.
    let (status, patched) = env
        .call(
            Method::PUT,
            &patch,
            Some(&admin),
            Some(json!({"allowed_domains": "@Example.com"})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(patched["allowed_domains"], "@Example.com");
    env.call_err(
        Method::POST,
        &members,
        Some(&admin),
        Some(add(user.clone())),
        400,
        "api.team.join_user_to_team.allowed_domains.app_error",
    )
    .await;
    let (status, _) = env
        .call(
            Method::POST,
            &members,
            Some(&admin),
            Some(add(env.id("sharebot"))),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "bots are exempt from the domain rule"
    );
    env.call(
        Method::PUT,
        &patch,
        Some(&admin),
        Some(json!({"allowed_domains": ""})),
    )
    .await;

    // A system-wide restriction, and a team domain it does not list is refused.
    env.call(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(json!({"TeamSettings": {"RestrictCreationToDomains": "example.com"}})),
    )
    .await;
    env.call_err(
        Method::POST,
        &members,
        Some(&admin),
        Some(add(user.clone())),
        400,
        "api.team.join_user_to_team.allowed_domains.app_error",
    )
    .await;
    env.call_err(
        Method::PUT,
        &patch,
        Some(&admin),
        Some(json!({"allowed_domains": "other.org"})),
        400,
        "api.team.update_restricted_domains.mismatch.app_error",
    )
    .await;
    env.call(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(json!({"TeamSettings": {"RestrictCreationToDomains": ""}})),
    )
    .await;

    // Group-constrained: nobody is in a synced group here.
    env.call(
        Method::PUT,
        &patch,
        Some(&admin),
        Some(json!({"group_constrained": true})),
    )
    .await;
    env.call_err(
        Method::POST,
        &members,
        Some(&admin),
        Some(add(user.clone())),
        400,
        "api.team.add_members.user_denied",
    )
    .await;
    env.call(
        Method::PUT,
        &patch,
        Some(&admin),
        Some(json!({"group_constrained": false})),
    )
    .await;

    // Full: the members already there count (bots too), a new one does not fit.
    let (_, list) = env
        .call(
            Method::GET,
            &format!("{members}?exclude_deleted_users=true"),
            Some(&admin),
            None,
        )
        .await;
    let count = list.as_array().unwrap().len();
    env.call(
        Method::PUT,
        "/api/v4/config/patch",
        Some(&admin),
        Some(json!({"TeamSettings": {"MaxUsersPerTeam": count}})),
    )
    .await;
    env.call_err(
        Method::POST,
        &members,
        Some(&admin),
        Some(add(user.clone())),
        400,
        "app.team.join_user_to_team.save_member.max_accounts.app_error",
    )
    .await;
    let (status, _) = env
        .call(
            Method::POST,
            &members,
            Some(&admin),
            Some(add(env.id("sysadmin"))),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "an existing member is not counted again"
    );

    // Only a team or system admin may patch or archive; archiving is a soft delete.
    let plain = env.login("user-1", "SampleUs@r-1").await;
    env.call_err(
        Method::PUT,
        &patch,
        Some(&plain),
        Some(json!({"allowed_domains": ""})),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::DELETE,
        &format!("/api/v4/teams/{team}"),
        Some(&plain),
        None,
        403,
        "api.context.permissions.app_error",
    )
    .await;
    let (status, _) = env
        .call(
            Method::DELETE,
            &format!("/api/v4/teams/{team}"),
            Some(&admin),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, archived) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{team}"),
            Some(&admin),
            None,
        )
        .await;
    assert!(archived["delete_at"].as_i64().unwrap() > 0);
    let (_, teams) = env
        .call(Method::GET, "/api/v4/teams", Some(&admin), None)
        .await;
    assert!(teams
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["id"] != team.as_str()));
    env.finish().await;
}

#[tokio::test]
async fn scheme_roles_make_a_team_admin_as_the_server_does() {
    let env = Sandbox::start().await;
    let admin = env.admin_token().await;
    let user = env.login("user-1", "SampleUs@r-1").await;
    let (engineering, marketing) = (env.team("engineering"), env.team("marketing"));
    let user_id = env.id("user-1");
    let path = |team: &str, who: &str| format!("/api/v4/teams/{team}/members/{who}/schemeRoles");
    let admin_role = json!({"scheme_admin": true, "scheme_user": true, "scheme_guest": false});
    // A plain member may not (manage_team_roles); a body that is not SchemeRoles is a 400.
    env.call_err(
        Method::PUT,
        &path(&engineering, &user_id),
        Some(&user),
        Some(admin_role.clone()),
        403,
        "api.context.permissions.app_error",
    )
    .await;
    env.call_err(
        Method::PUT,
        &path(&engineering, &user_id),
        Some(&admin),
        Some(json!({"scheme_admin": "yes"})),
        400,
        "api.context.invalid_body_param.app_error",
    )
    .await;
    // Not a member of Marketing: the server's 404; a guest and a user at once: 400.
    env.call_err(
        Method::PUT,
        &path(&marketing, &user_id),
        Some(&admin),
        Some(admin_role.clone()),
        404,
        "app.team.get_member.missing.app_error",
    )
    .await;
    env.call_err(
        Method::PUT,
        &path(&engineering, &user_id),
        Some(&admin),
        Some(json!({"scheme_admin": false, "scheme_user": true, "scheme_guest": true})),
        400,
        "api.team.update_team_member_roles.guest_and_user.app_error",
    )
    .await;
    let (status, body) = env
        .call(
            Method::PUT,
            &path(&engineering, &user_id),
            Some(&admin),
            Some(admin_role.clone()),
        )
        .await;
    assert_eq!((status, &body), (StatusCode::OK, &json!({"status": "OK"})));
    let (_, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{engineering}/members/{user_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(member["scheme_admin"], true);
    assert_eq!(member["scheme_user"], true);
    assert_eq!(member["roles"], "team_user team_admin");
    // Now a team admin, user-1 may set roles in that team (and still not in another).
    let (status, _) = env
        .call(
            Method::PUT,
            &path(&engineering, &user_id),
            Some(&user),
            Some(json!({"scheme_admin": false, "scheme_user": true, "scheme_guest": false})),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, member) = env
        .call(
            Method::GET,
            &format!("/api/v4/teams/{engineering}/members/{user_id}"),
            Some(&user),
            None,
        )
        .await;
    assert_eq!(member["scheme_admin"], false);
    assert_eq!(member["roles"], "team_user");
    env.finish().await;
}
