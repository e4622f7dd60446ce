//! Users: listing, by ids and by username.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::harness::Sandbox;

#[tokio::test]
async fn listing_system_admins_gives_the_two_admins_and_the_bot() {
    let env = Sandbox::start().await;
    let (status, users) = env
        .call(
            Method::GET,
            "/api/v4/users?role=system_admin&active=true&per_page=200&page=0",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let names: Vec<&str> = users
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["username"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["sharebot", "sysadmin", "sysadmin2"]);
    assert!(
        users[1].get("notify_props").is_none(),
        "others are sanitised"
    );

    let team = env.sandbox.team_id("engineering").unwrap();
    let (_, members) = env
        .call(
            Method::GET,
            &format!("/api/v4/users?in_team={team}"),
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(members.as_array().unwrap().len(), 4);
    let ids = json!([env.id("user-1"), env.id("sysadmin")]);
    let (status, found) = env
        .call(
            Method::POST,
            "/api/v4/users/ids",
            Some("bottoken"),
            Some(ids),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found.as_array().unwrap().len(), 2);
    let (status, user) = env
        .call(
            Method::GET,
            "/api/v4/users/username/user-1",
            Some("bottoken"),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["id"], env.id("user-1"));
    env.finish().await;
}
