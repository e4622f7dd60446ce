//! The audit searched as an admin would: `audit` with its filters and pages in the admin
//! channel, and `GET /audit` for a log collector with the right token, a wrong one, none, and
//! on a bot without `server.audit_token` (where the route does not exist).

mod support;

use serde_json::Value;
use support::asking::*;
use support::world::*;

const TOKEN: &str = "audit-token-for-the-collector-0123";

/// `GET /audit?query` on the bot with `token` (none: no header): status, header, lines.
async fn get_audit(
    bot: &sharebot::bot::RunningBot,
    query: &str,
    token: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut request = reqwest::Client::new().get(format!("http://{}/audit?{query}", bot.http_addr));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let res = request.send().await.unwrap();
    let status = res.status().as_u16();
    let total = res
        .headers()
        .get("x-total-count")
        .map(|v| v.to_str().unwrap().to_string());
    (status, total, res.text().await.unwrap())
}

fn actions(lines: &str) -> Vec<String> {
    lines
        .lines()
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            v["action"].as_str().unwrap().to_string()
        })
        .collect()
}

/// A bot whose audit holds: Org A discovered (by sharebot), Org C created and Org A's policy
/// changed (by sysadmin).
async fn with_history(extra: &[(&str, &str)]) -> (World, sharebot::bot::RunningBot, Admin) {
    let world = World::new(MadeBy::Console, "engineering", extra).await;
    let bot = world.start_bot().await;
    let admin = world.admin("sysadmin").await;
    wait("Org A discovered", || async {
        let found = bot
            .store
            .audit_of("connection.discovered", "")
            .await
            .unwrap();
        (!found.is_empty()).then_some(())
    })
    .await;
    says(
        &world,
        &admin,
        "@sharebot connect org-c \"Org C\" --review",
        &["org-c"],
    )
    .await;
    says(
        &world,
        &admin,
        "@sharebot policy org-a auto-accept --team engineering",
        &["Org A"],
    )
    .await;
    (world, bot, admin)
}

#[tokio::test]
async fn audit_filters_by_connection_action_person_and_age_page_by_page() {
    let (world, bot, admin) = with_history(&[]).await;
    let answer = says(
        &world,
        &admin,
        "@sharebot audit --connection org-a",
        &["connection.policy", "connection.discovered"],
    )
    .await;
    assert!(!answer.contains("connection.created"), "{answer}");
    let answer = says(
        &world,
        &admin,
        "@sharebot audit --action policy --since 7d",
        &["connection.policy", "1–1 of 1"],
    )
    .await;
    assert!(!answer.contains("connection.discovered"), "{answer}");
    let answer = says(
        &world,
        &admin,
        "@sharebot audit --by @sysadmin",
        &["connection.created", "connection.policy"],
    )
    .await;
    assert!(!answer.contains("connection.discovered"), "{answer}");
    let answer = says(
        &world,
        &admin,
        "@sharebot audit --by @sharebot",
        &["connection.discovered"],
    )
    .await;
    assert!(!answer.contains("connection.created"), "{answer}");
    // Newest first, one a page, and the command for the next page.
    let first = says(
        &world,
        &admin,
        "@sharebot audit 1",
        &[
            "connection.policy",
            "1–1 of 3",
            "Next page: `@sharebot audit 1 --page 2`",
        ],
    )
    .await;
    assert!(!first.contains("connection.created"), "{first}");
    says(
        &world,
        &admin,
        "@sharebot audit 1 --page 2",
        &["connection.created", "2–2 of 3"],
    )
    .await;
    let last = says(
        &world,
        &admin,
        "@sharebot audit 1 --page 3",
        &["connection.discovered", "3–3 of 3"],
    )
    .await;
    assert!(!last.contains("Next page"), "{last}");
    says(
        &world,
        &admin,
        "@sharebot audit --page 9",
        &["Page 9 is past the end", "3 entries"],
    )
    .await;
    says(
        &world,
        &admin,
        "@sharebot audit --action denied",
        &["No audit entry matches."],
    )
    .await;
    // Bad input: one clear line.
    says(
        &world,
        &admin,
        "@sharebot audit --connection nowhere",
        &["There is no connection named \"nowhere\"."],
    )
    .await;
    says(
        &world,
        &admin,
        "@sharebot audit --by @nobody-here",
        &["There is no user @nobody-here."],
    )
    .await;
    says(
        &world,
        &admin,
        "@sharebot audit --since 7y",
        &["`--since` takes an age like `7d`"],
    )
    .await;
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_audit_route_answers_the_right_token_only() {
    let (_world, bot, _admin) = with_history(&[("SHAREBOT_SERVER__AUDIT_TOKEN", TOKEN)]).await;
    let (status, total, body) = get_audit(&bot, "", Some(TOKEN)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(total.as_deref(), Some("3"));
    assert_eq!(
        actions(&body),
        [
            "connection.policy",
            "connection.created",
            "connection.discovered"
        ]
    );
    let first: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(first["by"], "sysadmin");
    assert!(first["time"].as_str().unwrap().ends_with('Z'), "{first}");
    // The command's filters, as query-string parameters.
    let (status, total, body) = get_audit(
        &bot,
        "connection=org-a&action=policy&by=%40sysadmin&since=1d",
        Some(TOKEN),
    )
    .await;
    assert_eq!((status, total.as_deref()), (200, Some("1")), "{body}");
    assert_eq!(actions(&body), ["connection.policy"]);
    let (status, total, body) = get_audit(&bot, "count=1&page=3", Some(TOKEN)).await;
    assert_eq!((status, total.as_deref()), (200, Some("3")));
    assert_eq!(actions(&body), ["connection.discovered"]);
    let (status, _, body) = get_audit(&bot, "action=bogus", Some(TOKEN)).await;
    assert_eq!(status, 400);
    assert!(body.starts_with("`--action` is one of accepted,"), "{body}");
    let (status, _, body) = get_audit(&bot, "connection=nowhere", Some(TOKEN)).await;
    assert_eq!(status, 404, "{body}");
    // No token, a wrong one, one a character short: refused, and nothing of the audit shown.
    for token in [None, Some("wrong-token"), Some(&TOKEN[..TOKEN.len() - 1])] {
        let (status, _, body) = get_audit(&bot, "", token).await;
        assert_eq!(status, 401, "{token:?}");
        assert!(!body.contains("connection."), "{body}");
        assert!(!body.contains(TOKEN), "{body}");
    }
    bot.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_an_audit_token_the_route_does_not_exist() {
    let world = World::new(MadeBy::Console, "engineering", &[]).await;
    let bot = world.start_bot().await;
    for token in [None, Some(TOKEN)] {
        let (status, _, _) = get_audit(&bot, "", token).await;
        assert_eq!(status, 404);
    }
    bot.shutdown().await.unwrap();
}
