//! What an admin does with the bot in the tests: ask in a channel and wait for the threaded
//! answer, and what a forger does: post a click straight to the bot's callback URL.

use serde_json::Value;
use sharebot::bot::RunningBot;
use sharebot::mattermost::models::Post;

use super::world::{bot_id, full_text, wait, Admin, World};

/// Asks in `channel` (a new thread) and waits for the bot's first answer in that thread.
pub async fn ask_post(world: &World, who: &Admin, channel: &str, text: &str) -> Post {
    let bot = bot_id(world);
    let asked = who.post(channel, text, "").await;
    wait(&format!("an answer to {text:?}"), || async {
        who.replies(channel, &asked.id, &bot)
            .await
            .into_iter()
            .next()
    })
    .await
}

/// [`ask_post`]'s answer as text.
pub async fn ask(world: &World, who: &Admin, channel: &str, text: &str) -> String {
    full_text(&ask_post(world, who, channel, text).await)
}

/// Asks in the admin channel and returns the answer's text.
pub async fn ask_admins(world: &World, who: &Admin, text: &str) -> String {
    ask(world, who, &world.admin_channel(), text).await
}

/// Asks in the admin channel and checks the answer holds every one of `expected`; returns it.
pub async fn says(world: &World, who: &Admin, text: &str, expected: &[&str]) -> String {
    let answer = ask_admins(world, who, text).await;
    for e in expected {
        assert!(
            answer.contains(e),
            "{text:?} answered:\n{answer}\nwithout {e:?}"
        );
    }
    answer
}

/// The context Mattermost keeps (and never shows a client) for `action_id` of a stored post.
pub fn stored_context(world: &World, post_id: &str, action_id: &str) -> Value {
    let post = world.b.stored_post(post_id).expect("stored post");
    post.action(action_id).expect("action")["integration"]["context"].clone()
}

/// Posts a click straight to the bot's callback URL, as a forger would.
pub async fn forge(bot: &RunningBot, body: Value) -> (u16, Value) {
    let res = reqwest::Client::new()
        .post(format!("http://{}/mattermost/actions", bot.http_addr))
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}
