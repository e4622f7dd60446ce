//! Storage tests, each run on SQLite and on PostgreSQL.

mod support;

use std::future::Future;

use sharebot::store::{
    Claim, Decider, Decision, How, NewRequest, NewRule, NewShareRequest, Policy, RequestState,
    RuleAction, RuleAudit, ShareState, Store, Verdict,
};
use support::db::TestDb;

fn admin(id: &str) -> Decider {
    Decider::Admin(id.into())
}

async fn on_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    let db = TestDb::sqlite().await;
    test(db.store.clone()).await;
    db.finish().await;
}

async fn on_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    if let Some(db) = TestDb::postgres().await {
        test(db.store.clone()).await;
        db.finish().await;
    }
}

/// Declares one test per backend for an `async fn(Store)`.
macro_rules! on_both {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[tokio::test] async fn $name() { super::on_sqlite(super::$name).await })*
        }
        mod postgres {
            $(#[tokio::test] async fn $name() { super::on_postgres(super::$name).await })*
        }
    };
}

on_both!(
    migrations_are_applied_once,
    kv_round_trip,
    audit_log_orders_entries,
    policies_upsert_and_list,
    a_second_discovery_is_a_no_op,
    concurrent_decisions_yield_exactly_one,
    decisions_record_who_and_where,
    notifications_are_claimed_once,
    a_fan_out_is_claimed_in_one_write_and_only_once,
    pending_requests_are_read_page_by_page_each_once,
    a_channel_has_one_request_whatever_its_state,
    an_auto_accepted_channel_found_by_two_paths_at_once_is_recorded_once,
    waiting_shares_are_kept_once_and_dropped,
    a_command_post_is_handled_once,
    a_post_refused_for_good_is_never_out_of_date,
    a_decision_step_and_its_audit_row_are_written_once,
    a_relocation_is_recorded_then_finished_or_rolled_back,
    button_posts_are_bound_closed_once_and_re_signed,
    notification_keys_are_recorded_and_old_ones_found,
    requests_are_counted_by_state_and_connection,
    rules_keep_their_order_through_moves_and_removals,
    a_rule_decision_is_claimed_with_the_request,
    the_audit_is_searched_by_connection_action_actor_and_age,
    a_change_of_health_is_claimed_once_and_can_be_given_back,
    invite_notes_are_claimed_once,
    share_requests_are_numbered_one_pending_per_channel_and_decided_once,
    share_request_posts_are_claimed_once,
);

fn sample(channel: &str) -> NewRequest {
    NewRequest {
        remote_id: "remote0000000000000000000a".into(),
        channel_id: channel.into(),
        channel_name: "incident-room".into(),
        channel_display_name: "Incident Room".into(),
        channel_type: "O".into(),
        channel_purpose: "Where incidents are handled".into(),
        ..NewRequest::default()
    }
}

async fn migrations_are_applied_once(store: Store) {
    assert_eq!(
        store.applied_migrations().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    );
    store
        .migrate()
        .await
        .expect("running migrations again is a no-op");
    assert_eq!(
        store.applied_migrations().await.unwrap(),
        vec![1, 2, 3, 4, 5, 6, 7, 8, 10, 11, 12]
    );
    store.ping().await.unwrap();
}

async fn kv_round_trip(store: Store) {
    assert_eq!(store.kv_get("ws.resume").await.unwrap(), None);
    store.kv_put("ws.resume", "conn-1:5").await.unwrap();
    store.kv_put("ws.resume", "conn-1:9").await.unwrap();
    assert_eq!(
        store.kv_get("ws.resume").await.unwrap().as_deref(),
        Some("conn-1:9")
    );
    assert!(store.kv_delete("ws.resume").await.unwrap());
    assert!(!store.kv_delete("ws.resume").await.unwrap());
}

async fn audit_log_orders_entries(store: Store) {
    let first = store
        .audit("admin1", "connection.created", "remote-a", "{}")
        .await
        .unwrap();
    let second = store
        .audit("sharebot", "request.opened", "req-1", "")
        .await
        .unwrap();
    store
        .audit("admin2", "request.accepted", "req-1", "{\"team\":\"t\"}")
        .await
        .unwrap();
    assert!(second > first);
    let recent = store.audit_recent(2).await.unwrap();
    assert_eq!(recent.len(), 2);
    assert_eq!(recent[0].action, "request.accepted");
    assert_eq!(recent[1].actor, "sharebot");
    let about = store.audit_for("req-1").await.unwrap();
    assert_eq!(
        about.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["request.opened", "request.accepted"]
    );
    assert!(about[0].at > 0);
}

async fn policies_upsert_and_list(store: Store) {
    let p = store
        .set_policy("remote-b", Policy::Review, None, "admin1")
        .await
        .unwrap();
    assert_eq!(p.policy, Policy::Review);
    let p = store
        .set_policy("remote-b", Policy::AutoAccept, Some("team-x"), "admin2")
        .await
        .unwrap();
    assert_eq!(p.policy, Policy::AutoAccept);
    assert_eq!(p.destination_team_id.as_deref(), Some("team-x"));
    assert_eq!(p.created_by, "admin1", "the creator is kept on update");
    store
        .set_policy("remote-a", Policy::Review, None, "admin1")
        .await
        .unwrap();
    let all = store.policies().await.unwrap();
    assert_eq!(
        all.iter().map(|p| p.remote_id.as_str()).collect::<Vec<_>>(),
        ["remote-a", "remote-b"]
    );
    assert!(store.delete_policy("remote-a").await.unwrap());
    assert_eq!(store.policy("remote-a").await.unwrap(), None);
}

async fn a_second_discovery_is_a_no_op(store: Store) {
    let (first, created) = store.open_request(&sample("chan1")).await.unwrap();
    assert!(created);
    assert_eq!(first.state, RequestState::Pending);
    let (again, created) = store.open_request(&sample("chan1")).await.unwrap();
    assert!(!created);
    assert_eq!(again.id, first.id);
    assert_eq!(store.pending_requests().await.unwrap().len(), 1);
}

async fn concurrent_decisions_yield_exactly_one(store: Store) {
    let (req, _) = store.open_request(&sample("chan2")).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        let id = req.id.clone();
        tasks.push(tokio::spawn(async move {
            let (to, team) = if i % 2 == 0 {
                (RequestState::Accepted, Some("team-a"))
            } else {
                (RequestState::Rejected, None)
            };
            store
                .decide(&id, to, team, &Decider::Admin(format!("admin{i}")), None)
                .await
                .unwrap()
        }));
    }
    let mut made = Vec::new();
    let mut lost = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Decision::Made(r) => made.push(r),
            Decision::AlreadyDecided(r) => lost.push(r),
            Decision::NotFound => panic!("the request exists"),
        }
    }
    assert_eq!(made.len(), 1, "exactly one decision wins");
    assert_eq!(lost.len(), 7);
    for l in &lost {
        assert_eq!(l.decided_by, made[0].decided_by, "losers learn who decided");
        assert_eq!(l.state, made[0].state);
    }
    assert!(store.pending_requests().await.unwrap().is_empty());
}

async fn decisions_record_who_and_where(store: Store) {
    let (req, _) = store.open_request(&sample("chan3")).await.unwrap();
    let Decision::Made(done) = store
        .decide(
            &req.id,
            RequestState::Accepted,
            Some("team-eng"),
            &admin("admin1"),
            Some("for the incident team"),
        )
        .await
        .unwrap()
    else {
        panic!("first decision wins")
    };
    assert_eq!(done.state, RequestState::Accepted);
    assert_eq!(done.team_id.as_deref(), Some("team-eng"));
    assert_eq!(
        done.decided_by.as_ref().map(Decider::as_str),
        Some("admin1")
    );
    assert_eq!(done.note.as_deref(), Some("for the incident team"));
    assert!(done.decided_at.is_some());
    assert_eq!(
        store
            .decide("nope", RequestState::Rejected, None, &admin("a"), None)
            .await
            .unwrap(),
        Decision::NotFound
    );
    assert!(
        !store.mark_reminded(&req.id).await.unwrap(),
        "decided requests are not reminded"
    );
}

async fn notifications_are_claimed_once(store: Store) {
    let (req, _) = store.open_request(&sample("chan4")).await.unwrap();
    assert!(store.claim_notification(&req.id, "admin1").await.unwrap());
    assert!(
        !store.claim_notification(&req.id, "admin1").await.unwrap(),
        "a second claim loses"
    );
    assert!(store.claim_notification(&req.id, "admin2").await.unwrap());
    store
        .complete_notification(&req.id, "admin1", "dm1", "post1", Some("pending::"), None)
        .await
        .unwrap();
    // admin2's send failed: releasing lets a retry claim it again; admin1's sent post stays.
    store.release_notification(&req.id, "admin2").await.unwrap();
    store.release_notification(&req.id, "admin1").await.unwrap();
    let rows = store.notifications(&req.id).await.unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].post_id.as_deref(), Some("post1"));
    assert_eq!(rows[0].shown, "pending::", "recorded with the post");
    assert!(store.claim_notification(&req.id, "admin2").await.unwrap());
}

async fn a_fan_out_is_claimed_in_one_write_and_only_once(store: Store) {
    let (req, _) = store.open_request(&sample("chan9")).await.unwrap();
    assert!(store.claim_notification(&req.id, "admin0").await.unwrap());
    // More admins than one statement takes, to cross a chunk boundary.
    let claims: Vec<(String, &str, String)> = (0..450)
        .map(|i| (format!("admin{i}"), "dm", format!("dm{i}")))
        .collect();
    let fresh = store.claim_posts(&req.id, &claims).await.unwrap();
    assert_eq!(fresh.len(), 449, "admin0 was claimed before");
    assert!(!fresh.contains("admin0") && fresh.contains("admin1") && fresh.contains("admin449"));
    let again = store.claim_posts(&req.id, &claims).await.unwrap();
    assert!(
        again.is_empty(),
        "a second claim of the same posts wins none"
    );
    let rows = store.notifications(&req.id).await.unwrap();
    assert_eq!(rows.len(), 450);
    let row = rows.iter().find(|n| n.admin_user_id == "admin7").unwrap();
    assert_eq!(row.channel_id.as_deref(), Some("dm7"));
    assert_eq!(row.kind, "dm");
    assert_eq!(row.post_id, None, "claimed, not sent");
}

async fn pending_requests_are_read_page_by_page_each_once(store: Store) {
    // Opened within a few milliseconds: several share a created_at, so ties need the id.
    for i in 0..7 {
        store
            .open_request(&sample(&format!("paged{i}")))
            .await
            .unwrap();
    }
    let all: Vec<String> = store
        .pending_requests()
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .pending_requests_page(after.as_ref(), 2)
            .await
            .unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        after = Some((last.created_at, last.id.clone()));
        paged.extend(page.into_iter().map(|r| r.id));
    }
    assert_eq!(paged, all, "every pending request once, oldest first");
}

async fn a_channel_has_one_request_whatever_its_state(store: Store) {
    let (req, _) = store.open_request(&sample("chan5")).await.unwrap();
    store
        .decide(
            &req.id,
            RequestState::Rejected,
            None,
            &admin("admin1"),
            None,
        )
        .await
        .unwrap();
    let (again, created) = store.open_request(&sample("chan5")).await.unwrap();
    assert!(!created, "a decided channel is not opened again");
    assert_eq!(again.id, req.id);
    assert_eq!(again.state, RequestState::Rejected);
    let (accepted, created) = store
        .record_auto_accepted(&sample("chan5"), "team-x")
        .await
        .unwrap();
    assert!(!created, "nor recorded again as auto-accepted");
    assert_eq!(accepted.id, req.id);
    assert_eq!(store.requests_for_channel("chan5").await.unwrap().len(), 1);

    // A withdrawn request is history: the channel shared again is a new request.
    let (first, _) = store.open_request(&sample("chan6")).await.unwrap();
    assert!(store.withdraw(&first.id).await.unwrap());
    let (second, created) = store.open_request(&sample("chan6")).await.unwrap();
    assert!(created);
    assert_ne!(second.id, first.id);
    assert_eq!(
        store
            .live_request_for_channel("chan6")
            .await
            .unwrap()
            .map(|r| r.id),
        Some(second.id)
    );
}

async fn an_auto_accepted_channel_found_by_two_paths_at_once_is_recorded_once(store: Store) {
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            if i % 4 == 3 {
                // A review discovery of the same channel racing the auto-accepts.
                store.open_request(&sample("chan7")).await.unwrap()
            } else {
                store
                    .record_auto_accepted(&sample("chan7"), "team-x")
                    .await
                    .unwrap()
            }
        }));
    }
    let mut made = 0;
    let mut ids = std::collections::HashSet::new();
    for task in tasks {
        let (request, created) = task.await.unwrap();
        made += usize::from(created);
        ids.insert(request.id);
    }
    assert_eq!(made, 1, "exactly one call records the channel");
    assert_eq!(ids.len(), 1, "every caller is told of that one request");
    assert_eq!(store.requests_for_channel("chan7").await.unwrap().len(), 1);
}

async fn waiting_shares_are_kept_once_and_dropped(store: Store) {
    assert!(store.add_waiting_share("r1", "c1", "u1").await.unwrap());
    assert!(!store.add_waiting_share("r1", "c1", "u2").await.unwrap());
    assert!(store.add_waiting_share("r1", "c2", "u1").await.unwrap());
    assert!(store.add_waiting_share("r2", "c1", "u1").await.unwrap());
    let r1 = store.waiting_shares(Some("r1")).await.unwrap();
    assert_eq!(r1.len(), 2);
    assert_eq!(r1[0].requested_by, "u1");
    assert_eq!(store.waiting_shares(None).await.unwrap().len(), 3);
    assert!(store.remove_waiting_share("r1", "c1").await.unwrap());
    assert!(!store.remove_waiting_share("r1", "c1").await.unwrap());
    assert_eq!(store.forget_waiting_shares("r1").await.unwrap(), 1);
    assert_eq!(store.waiting_shares(None).await.unwrap().len(), 1);
}

async fn a_command_post_is_handled_once(store: Store) {
    use sharebot::store::CommandClaim;
    assert_eq!(
        store.claim_command("p1", "u1").await.unwrap(),
        CommandClaim::New
    );
    store.finish_command("p1").await.unwrap();
    assert_eq!(
        store.claim_command("p1", "u1").await.unwrap(),
        CommandClaim::Done
    );
    // Claimed, never finished: reported once as interrupted, then done.
    assert_eq!(
        store.claim_command("p2", "u1").await.unwrap(),
        CommandClaim::New
    );
    assert_eq!(
        store.claim_command("p2", "u1").await.unwrap(),
        CommandClaim::Interrupted
    );
    assert_eq!(
        store.claim_command("p2", "u1").await.unwrap(),
        CommandClaim::Done
    );
}

async fn a_post_refused_for_good_is_never_out_of_date(store: Store) {
    let (req, _) = store.open_request(&sample("chan10")).await.unwrap();
    for (admin, post) in [("admin1", "post1"), ("admin2", "post2")] {
        store.claim_notification(&req.id, admin).await.unwrap();
        store
            .complete_notification(&req.id, admin, "dm", post, Some("pending::"), None)
            .await
            .unwrap();
    }
    store
        .begin_decision(
            &req.id,
            &Claim {
                verdict: Verdict::Reject,
                how: How::Click,
                by: Decider::Admin("admin1".into()),
                team_id: None,
                note: None,
            },
        )
        .await
        .unwrap();
    let stale = store.stale_notifications().await.unwrap();
    assert_eq!(stale.len(), 2, "both copies show an older state");
    let reason = "api.post.patch_post.can_not_update_post_in_deleted.error";
    store.refuse_edit(&req.id, "admin2", reason).await.unwrap();
    let stale = store.stale_notifications().await.unwrap();
    assert_eq!(
        stale
            .iter()
            .map(|n| n.admin_user_id.as_str())
            .collect::<Vec<_>>(),
        ["admin1"],
        "a post the server will not edit is not tried again"
    );
    let rows = store.notifications(&req.id).await.unwrap();
    assert_eq!(rows[1].refused_edit.as_deref(), Some(reason));
    assert_eq!(rows[0].refused_edit, None);
}

/// Migration 5 replaces the index over pending requests with one over every state but
/// `withdrawn`; rows the old index let through are dropped first, keeping the one that says
/// what happened, with an audit entry per drop.
async fn duplicates_from_before_the_unique_index_are_dropped_safely(db: TestDb) {
    use sqlx::Connection;
    db.store.migrate_up_to_for_tests(4).await.unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let rows = [
        // Two auto-accept records of one channel; the later one was relocated.
        ("a1", "chanA", "accepted", 100),
        ("a2", "chanA", "accepted", 200),
        // Pending beside a decision: the decision is kept.
        ("b1", "chanB", "pending", 300),
        ("b2", "chanB", "accepted", 100),
        // A withdrawn request is history beside the live one.
        ("c1", "chanC", "withdrawn", 100),
        ("c2", "chanC", "accepted", 200),
        ("d1", "chanD", "pending", 100),
    ];
    for (id, channel, state, at) in rows {
        sqlx::query(
            "INSERT INTO review_requests (id, remote_id, channel_id, channel_name, channel_display_name,
                 channel_type, state, created_at, updated_at, org_name)
             VALUES ($1, 'remote', $2, $2, $2, 'O', $3, $4, $4, 'Org A')",
        )
        .bind(id)
        .bind(channel)
        .bind(state)
        .bind(at as i64)
        .execute(&mut conn)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO notification_posts (request_id, admin_user_id, post_id, created_at, updated_at)
             VALUES ($1, 'admins', $1, 1, 1)",
        )
        .bind(id)
        .execute(&mut conn)
        .await
        .unwrap();
    }
    conn.close().await.unwrap();
    db.store.migrate().await.unwrap();
    let kept = |channel: &'static str| {
        let store = db.store.clone();
        async move {
            let mut ids: Vec<String> = store
                .requests_for_channel(channel)
                .await
                .unwrap()
                .into_iter()
                .map(|r| r.id)
                .collect();
            ids.sort();
            ids
        }
    };
    assert_eq!(kept("chanA").await, ["a2"]);
    assert_eq!(kept("chanB").await, ["b2"]);
    assert_eq!(kept("chanC").await, ["c1", "c2"]);
    assert_eq!(kept("chanD").await, ["d1"]);
    assert!(db.store.notifications("a1").await.unwrap().is_empty());
    assert_eq!(db.store.notifications("a2").await.unwrap().len(), 1);
    for dropped in ["a1", "b1"] {
        let audit = db.store.audit_for(dropped).await.unwrap();
        assert_eq!(audit.len(), 1, "{audit:?}");
        assert_eq!(audit[0].action, "request.duplicate_dropped");
        assert!(audit[0].detail.contains("recorded twice"), "{audit:?}");
    }
    // From now on the index holds: a second record of chanA is a no-op.
    let (again, created) = db
        .store
        .record_auto_accepted(&sample("chanA"), "team-x")
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, "a2");
    db.finish().await;
}

/// A verdict being applied that this build does not know (written by a newer one, say) is
/// neither read as a rejection nor finished as one: the request stays pending.
async fn an_unknown_verdict_is_never_finished_as_a_rejection(db: TestDb) {
    use sqlx::Connection;
    let (req, _) = db.store.open_request(&sample("chan-new")).await.unwrap();
    let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    sqlx::query(
        "UPDATE review_requests SET deciding = 'approve', decided_by = 'admin1' WHERE id = $1",
    )
    .bind(&req.id)
    .execute(&mut conn)
    .await
    .unwrap();
    assert!(
        db.store.request(&req.id).await.is_err(),
        "read as a known verdict"
    );
    let _ = db.store.finish_decision(&req.id).await;
    let (state,): (String,) = sqlx::query_as("SELECT state FROM review_requests WHERE id = $1")
        .bind(&req.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(state, "pending");
    conn.close().await.unwrap();
    db.finish().await;
}

mod unknown_verdict {
    #[tokio::test]
    async fn sqlite_an_unknown_verdict_is_never_finished_as_a_rejection() {
        let db = super::TestDb::sqlite().await;
        super::an_unknown_verdict_is_never_finished_as_a_rejection(db).await;
    }

    #[tokio::test]
    async fn postgres_an_unknown_verdict_is_never_finished_as_a_rejection() {
        if let Some(db) = super::TestDb::postgres().await {
            super::an_unknown_verdict_is_never_finished_as_a_rejection(db).await;
        }
    }
}

mod migration {
    #[tokio::test]
    async fn sqlite_duplicates_from_before_the_unique_index_are_dropped_safely() {
        let db = super::TestDb::sqlite_unmigrated().await;
        super::duplicates_from_before_the_unique_index_are_dropped_safely(db).await;
    }

    #[tokio::test]
    async fn postgres_duplicates_from_before_the_unique_index_are_dropped_safely() {
        if let Some(db) = super::TestDb::postgres_unmigrated().await {
            super::duplicates_from_before_the_unique_index_are_dropped_safely(db).await;
        }
    }
}

async fn a_decision_step_and_its_audit_row_are_written_once(store: Store) {
    let (req, _) = store.open_request(&sample("chan-steps")).await.unwrap();
    store
        .begin_decision(
            &req.id,
            &Claim {
                verdict: Verdict::Accept,
                how: How::Click,
                by: Decider::Admin("admin1".into()),
                team_id: Some("team-a"),
                note: None,
            },
        )
        .await
        .unwrap();
    store.add_progress(&req.id, "decider").await.unwrap();
    for expected in [true, false, false] {
        assert_eq!(
            store
                .audit_step(&req.id, "audit", "admin1", "request.accepted", "{}")
                .await
                .unwrap(),
            expected
        );
    }
    let rows = store.audit_for(&req.id).await.unwrap();
    assert_eq!(rows.len(), 1);
    let now = store.request(&req.id).await.unwrap().unwrap();
    assert!(now.did("decider") && now.did("audit"), "{}", now.progress);
}

async fn a_relocation_is_recorded_then_finished_or_rolled_back(store: Store) {
    let (req, _) = store.open_request(&sample("chan-move")).await.unwrap();
    store
        .decide(
            &req.id,
            RequestState::Accepted,
            Some("team-a"),
            &admin("admin1"),
            None,
        )
        .await
        .unwrap();
    assert!(!store
        .begin_relocation(&req.id, "team-x", "team-b", "admin2")
        .await
        .unwrap());
    assert!(store
        .begin_relocation(&req.id, "team-a", "team-b", "admin2")
        .await
        .unwrap());
    assert!(
        !store
            .begin_relocation(&req.id, "team-a", "team-c", "admin3")
            .await
            .unwrap(),
        "one relocation at a time"
    );
    assert_eq!(store.relocations_in_progress().await.unwrap().len(), 1);
    assert!(store
        .finish_relocation(&req.id, "{\"to_team\":\"B\"}")
        .await
        .unwrap());
    assert!(
        !store.finish_relocation(&req.id, "{}").await.unwrap(),
        "finished once"
    );
    let moved = store.request(&req.id).await.unwrap().unwrap();
    assert_eq!(moved.team_id.as_deref(), Some("team-b"));
    assert_eq!(moved.accepted_team_id.as_deref(), Some("team-a"));
    assert_eq!(
        moved.decided_by.as_ref().map(Decider::as_str),
        Some("admin1"),
        "the decision is kept"
    );
    assert_eq!(moved.moved_by.as_deref(), Some("admin2"));
    assert!(moved.moved_at.is_some() && moved.relocating_to.is_none());
    let rows = store.audit_for(&req.id).await.unwrap();
    assert_eq!(
        rows.iter()
            .filter(|e| e.action == "request.relocated")
            .count(),
        1
    );

    // A second move keeps the first team; a rolled-back one changes nothing.
    assert!(store
        .begin_relocation(&req.id, "team-b", "team-c", "admin3")
        .await
        .unwrap());
    store.abandon_relocation(&req.id).await.unwrap();
    let back = store.request(&req.id).await.unwrap().unwrap();
    assert_eq!(back.team_id.as_deref(), Some("team-b"));
    assert!(back.relocating_to.is_none());
    assert!(store.relocations_in_progress().await.unwrap().is_empty());
    assert!(store
        .begin_relocation(&req.id, "team-b", "team-c", "admin3")
        .await
        .unwrap());
    assert!(store.finish_relocation(&req.id, "{}").await.unwrap());
    let twice = store.request(&req.id).await.unwrap().unwrap();
    assert_eq!(twice.accepted_team_id.as_deref(), Some("team-a"));
    assert_eq!(twice.moved_by.as_deref(), Some("admin3"));
}

async fn button_posts_are_bound_closed_once_and_re_signed(store: Store) {
    store
        .record_button_post("btn1", "chan1", r#"{"attachments":[]}"#, "key00001")
        .await
        .unwrap();
    // Not sent yet: no post has these buttons.
    assert!(store.button_post("post1").await.unwrap().is_none());
    store.button_post_sent("btn1", "post1").await.unwrap();
    let row = store.button_post("post1").await.unwrap().unwrap();
    assert_eq!(
        (row.button_id.as_str(), row.key_id.as_str(), row.closed_at),
        ("btn1", "key00001", None)
    );
    assert_eq!(
        store
            .button_posts_signed_otherwise("key00002")
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(store
        .button_posts_signed_otherwise("key00001")
        .await
        .unwrap()
        .is_empty());
    store
        .resign_button_post("btn1", r#"{"attachments":[1]}"#, "key00002")
        .await
        .unwrap();
    let row = store.button_post("post1").await.unwrap().unwrap();
    assert_eq!(
        (row.key_id.as_str(), row.props.as_str()),
        ("key00002", r#"{"attachments":[1]}"#)
    );
    assert!(store.close_button_post("btn1").await.unwrap());
    assert!(
        !store.close_button_post("btn1").await.unwrap(),
        "closed twice"
    );
    // A closed post is never re-signed.
    assert!(store
        .button_posts_signed_otherwise("key00003")
        .await
        .unwrap()
        .is_empty());
}

async fn notification_keys_are_recorded_and_old_ones_found(store: Store) {
    let (req, _) = store.open_request(&sample("chan-keys")).await.unwrap();
    assert!(store.claim_notification(&req.id, "admin1").await.unwrap());
    assert!(store.claim_notification(&req.id, "admin2").await.unwrap());
    store
        .complete_notification(
            &req.id,
            "admin1",
            "dm1",
            "post1",
            Some("pending::"),
            Some("key00001"),
        )
        .await
        .unwrap();
    // A post recorded without a key (sent before key ids were recorded) counts as old.
    store
        .complete_notification(&req.id, "admin2", "dm2", "post2", Some("pending::"), None)
        .await
        .unwrap();
    assert_eq!(
        store.requests_signed_otherwise("key00001").await.unwrap(),
        vec![req.id.clone()]
    );
    store
        .mark_shown_signed(&req.id, "admin2", "pending::", "key00001")
        .await
        .unwrap();
    assert!(store
        .requests_signed_otherwise("key00001")
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        store.requests_signed_otherwise("key00002").await.unwrap(),
        vec![req.id.clone()]
    );
}

async fn requests_are_counted_by_state_and_connection(store: Store) {
    assert!(store.request_counts().await.unwrap().is_empty());
    let (first, _) = store.open_request(&sample("count1")).await.unwrap();
    store.open_request(&sample("count2")).await.unwrap();
    assert!(store.withdraw(&first.id).await.unwrap());
    let mut counts: Vec<(String, String, i64)> = store
        .request_counts()
        .await
        .unwrap()
        .into_iter()
        .map(|c| (c.state, c.remote_id, c.count))
        .collect();
    counts.sort();
    let remote = sample("x").remote_id;
    assert_eq!(
        counts,
        [
            ("pending".to_string(), remote.clone(), 1),
            ("withdrawn".to_string(), remote, 1)
        ]
    );
}

fn new_rule(pattern: &str, action: RuleAction) -> NewRule {
    NewRule {
        remote_id: "remote0000000000000000000a".into(),
        pattern: pattern.into(),
        channel_type: None,
        display_pattern: None,
        action,
        apply_pending: false,
        created_by: "admin1".into(),
    }
}

async fn rules_keep_their_order_through_moves_and_removals(store: Store) {
    let remote = "remote0000000000000000000a";
    let detail =
        |r: &sharebot::store::StoredRule| format!("rule {} {}", r.position, r.rule.pattern);
    let audit = || RuleAudit {
        actor: "admin1",
        detail: &detail,
    };
    let actions = [
        RuleAction::Accept {
            team_id: "team1".into(),
        },
        RuleAction::Review {
            suggest: Some("team2".into()),
        },
        RuleAction::Reject {
            reason: Some("not for us".into()),
        },
        RuleAction::Review { suggest: None },
    ];
    for (i, action) in actions.iter().enumerate() {
        let made = store
            .add_rule(&new_rule(&format!("p{}", i + 1), action.clone()), audit())
            .await
            .unwrap();
        assert_eq!(made.position, i as i64 + 1);
    }
    let order = |rules: Vec<sharebot::store::StoredRule>| {
        rules
            .into_iter()
            .map(|r| (r.position, r.rule.pattern))
            .collect::<Vec<_>>()
    };
    let stored = store.rules(remote).await.unwrap();
    assert_eq!(
        stored
            .iter()
            .map(|r| r.rule.action.clone())
            .collect::<Vec<_>>(),
        actions
    );
    let moved = store
        .move_rule(remote, 4, 1, audit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!((moved.position, moved.rule.pattern.as_str()), (1, "p4"));
    assert_eq!(
        order(store.rules(remote).await.unwrap()),
        [
            (1, "p4".into()),
            (2, "p1".into()),
            (3, "p2".into()),
            (4, "p3".into())
        ]
    );
    let removed = store
        .remove_rule(remote, 2, audit())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(removed.rule.pattern, "p1");
    assert_eq!(
        order(store.rules(remote).await.unwrap()),
        [(1, "p4".into()), (2, "p2".into()), (3, "p3".into())]
    );
    assert!(store
        .move_rule(remote, 1, 4, audit())
        .await
        .unwrap()
        .is_none());
    assert!(store
        .remove_rule(remote, 0, audit())
        .await
        .unwrap()
        .is_none());
    assert_eq!(store.rules(remote).await.unwrap().len(), 3);
    assert_eq!(
        store.rule_counts().await.unwrap(),
        [(remote.to_string(), 3)]
    );
    let written = store.audit_of("rule", remote).await.unwrap();
    assert_eq!(
        written.len(),
        6,
        "four adds, a move and a removal: {written:?}"
    );
    assert_eq!(written[4].detail, "rule 1 p4");
    // A rule written to apply to pending channels is marked until the pass did it.
    let mut pending = new_rule("p5", RuleAction::Reject { reason: None });
    pending.apply_pending = true;
    store.add_rule(&pending, audit()).await.unwrap();
    assert_eq!(store.rules_to_apply_to_pending().await.unwrap(), [remote]);
    store.rules_applied_to_pending(remote).await.unwrap();
    assert!(store.rules_to_apply_to_pending().await.unwrap().is_empty());
}

async fn a_rule_decision_is_claimed_with_the_request(store: Store) {
    let claim = Claim {
        verdict: Verdict::Reject,
        how: How::Rule,
        by: Decider::Sharebot,
        team_id: None,
        note: Some("not for us"),
    };
    let rule = "rule 1 of org-b: `budget`";
    let (made, created) = store
        .open_request_by_rule(&sample("chan-rule-1"), &claim, rule)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(made.state, RequestState::Pending);
    assert_eq!(made.deciding, Some(Verdict::Reject));
    assert_eq!(made.rule.as_deref(), Some(rule));
    assert_eq!(made.how(), Some(How::Rule));
    assert_eq!(made.note.as_deref(), Some("not for us"));
    // Found again by another path: nothing written.
    let (again, created) = store
        .open_request_by_rule(&sample("chan-rule-1"), &claim, rule)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(again.id, made.id);
    // No pass sees it as waiting for an admin.
    assert!(store
        .pending_requests()
        .await
        .unwrap()
        .iter()
        .all(|r| r.deciding.is_some()));
    // A failed rule decision goes back to the admins, the rule forgotten.
    let back = store.abandon_decision(&made.id).await.unwrap().unwrap();
    assert_eq!((back.deciding, back.rule), (None, None));
    // A request pending before the rule was written is claimed by it once.
    let (old, _) = store.open_request(&sample("chan-rule-2")).await.unwrap();
    let accept = Claim {
        verdict: Verdict::Accept,
        how: How::Rule,
        by: Decider::Sharebot,
        team_id: Some("team1"),
        note: None,
    };
    let first = store
        .begin_decision_by_rule(&old.id, &accept, rule)
        .await
        .unwrap();
    assert!(matches!(&first, Decision::Made(r) if r.rule.as_deref() == Some(rule)));
    let second = store
        .begin_decision_by_rule(&old.id, &accept, rule)
        .await
        .unwrap();
    assert!(matches!(second, Decision::AlreadyDecided(_)));
}

async fn the_audit_is_searched_by_connection_action_actor_and_age(store: Store) {
    use sharebot::store::{AuditConnection, AuditQuery};
    let rid = "remote0000000000000000000a";
    let request = store
        .open_request(&sample("chan00000000000000000000aa"))
        .await
        .unwrap();
    let request_id = request.0.id.clone();
    let rows = [
        (
            "alice",
            "connection.created",
            rid,
            r#"{"org":"Org_B 100%","name":"org-b"}"#,
        ),
        (
            "sharebot",
            "request.opened",
            request_id.as_str(),
            "channel Incident Room from Org_B 100%",
        ),
        (
            "bob",
            "request.accepted",
            request_id.as_str(),
            r#"{"team":"Engineering"}"#,
        ),
        (
            "sharebot",
            "request.auto_accepted",
            "req-other",
            r#"{"org":"Org C"}"#,
        ),
        (
            "alice",
            "channel.shared",
            "chan-1",
            r#"{"channel":"launch","org":"Org_B 100%"}"#,
        ),
        (
            "alice",
            "channel.unshared",
            "chan-1",
            r#"{"channel":"launch","org":"Org_B 100%"}"#,
        ),
        (
            "bob",
            "connection.accepted",
            "remote-c",
            r#"{"org":"Org C"}"#,
        ),
        (
            "sharebot",
            "connection.invite_expired",
            "remote-d",
            r#"{"org":"Org D"}"#,
        ),
        (
            "carol",
            "rule.added",
            "remote-c",
            r#"{"remote_id":"remote0000000000000000000a"}"#,
        ),
        ("alice", "connection.policy", rid, r#"{"org":"Org_B 100%"}"#),
        // Same display name but for the LIKE wildcards: must not match.
        (
            "alice",
            "channel.shared",
            "chan-2",
            r#"{"org":"OrgXB 1000"}"#,
        ),
    ];
    for (actor, action, subject, detail) in rows {
        store.audit(actor, action, subject, detail).await.unwrap();
    }
    let search = |q: AuditQuery| {
        let store = store.clone();
        async move {
            let (entries, total) = store.audit_search(&q).await.unwrap();
            (
                entries.into_iter().map(|e| e.action).collect::<Vec<_>>(),
                total,
            )
        }
    };
    let all = |q: AuditQuery| AuditQuery { limit: 100, ..q };
    let org_b = Some(AuditConnection {
        remote_id: rid.into(),
        org: "Org_B 100%".into(),
    });
    // By connection: its own entries, its requests', those naming it; newest first.
    let (actions, total) = search(all(AuditQuery {
        connection: org_b.clone(),
        ..AuditQuery::default()
    }))
    .await;
    assert_eq!(
        actions,
        [
            "connection.policy",
            "rule.added",
            "channel.unshared",
            "channel.shared",
            "request.accepted",
            "request.opened",
            "connection.created",
        ]
    );
    assert_eq!(total, 7);
    // By action word: a dotted part, or the end of the last part.
    let action = |w: &str| {
        all(AuditQuery {
            action: Some(w.into()),
            ..AuditQuery::default()
        })
    };
    assert_eq!(
        search(action("accepted")).await.0,
        [
            "connection.accepted",
            "request.auto_accepted",
            "request.accepted"
        ]
    );
    assert_eq!(
        search(action("shared")).await.0,
        ["channel.shared", "channel.shared"]
    );
    assert_eq!(search(action("unshared")).await.0, ["channel.unshared"]);
    assert_eq!(
        search(action("expired")).await.0,
        ["connection.invite_expired"]
    );
    assert_eq!(search(action("rule")).await.0, ["rule.added"]);
    assert_eq!(search(action("policy")).await.0, ["connection.policy"]);
    assert_eq!(search(action("denied")).await.1, 0);
    // By actor, combined with a connection and an action.
    let (actions, _) = search(all(AuditQuery {
        connection: org_b.clone(),
        action: Some("shared".into()),
        actors: vec!["alice".into()],
        ..AuditQuery::default()
    }))
    .await;
    assert_eq!(actions, ["channel.shared"]);
    let (actions, _) = search(all(AuditQuery {
        actors: vec!["sharebot".into(), "carol".into()],
        ..AuditQuery::default()
    }))
    .await;
    assert_eq!(
        actions,
        [
            "rule.added",
            "connection.invite_expired",
            "request.auto_accepted",
            "request.opened"
        ]
    );
    // By age: everything is recent; nothing is from the future.
    let now = sharebot::ids::now_ms();
    assert_eq!(
        search(all(AuditQuery {
            since: Some(now - 60_000),
            ..AuditQuery::default()
        }))
        .await
        .1,
        11
    );
    assert_eq!(
        search(all(AuditQuery {
            since: Some(now + 60_000),
            ..AuditQuery::default()
        }))
        .await
        .1,
        0
    );
    // Pages: newest first, each entry once, the total on every page.
    let page = |offset| AuditQuery {
        limit: 4,
        offset,
        ..AuditQuery::default()
    };
    let mut seen = Vec::new();
    for offset in [0, 4, 8] {
        let (entries, total) = store.audit_search(&page(offset)).await.unwrap();
        assert_eq!(total, 11);
        seen.extend(entries.into_iter().map(|e| e.id));
    }
    assert_eq!(seen.len(), 11);
    assert!(seen.windows(2).all(|w| w[0] > w[1]), "{seen:?}");
}

async fn a_change_of_health_is_claimed_once_and_can_be_given_back(store: Store) {
    use sharebot::store::Health;
    let rid = "remote0000000000000000000a";
    assert_eq!(
        store.record_health(rid, true, 100).await.unwrap(),
        Health::First
    );
    assert_eq!(
        store.record_health(rid, true, 200).await.unwrap(),
        Health::Unchanged
    );
    assert_eq!(
        store.record_health(rid, false, 300).await.unwrap(),
        Health::Changed { since: 100 }
    );
    assert_eq!(
        store.record_health(rid, false, 300).await.unwrap(),
        Health::Unchanged
    );
    // Two replicas seeing it back at once: one announces.
    let (a, b) = tokio::join!(
        store.record_health(rid, true, 400),
        store.record_health(rid, true, 400)
    );
    let changed = [a.unwrap(), b.unwrap()]
        .iter()
        .filter(|h| matches!(h, Health::Changed { .. }))
        .count();
    assert_eq!(changed, 1);
    // A post that could not be made gives the change back for the next pass.
    store.undo_health(rid, true, 300).await.unwrap();
    assert_eq!(
        store.record_health(rid, true, 500).await.unwrap(),
        Health::Changed { since: 300 }
    );
}

async fn invite_notes_are_claimed_once(store: Store) {
    let rid = "remote0000000000000000000b";
    assert!(store.claim_invite_warning(rid).await.unwrap());
    assert!(!store.claim_invite_warning(rid).await.unwrap());
    assert!(store.claim_invite_expired(rid).await.unwrap());
    assert!(!store.claim_invite_expired(rid).await.unwrap());
    store.release_invite_note(rid, true).await.unwrap();
    assert!(store.claim_invite_expired(rid).await.unwrap());
    // A connection first seen pending, then confirmed: its health starts from there.
    assert_eq!(
        store.record_health(rid, true, 1).await.unwrap(),
        sharebot::store::Health::First
    );
}

fn share_sample<'a>(channel: &'a str, asker: &'a str) -> NewShareRequest<'a> {
    NewShareRequest {
        channel_id: channel,
        channel_name: "launch-plan",
        remote_id: "remote0000000000000000000a",
        org_name: "Org A",
        asked_by: asker,
        asked_in: "dmchannel00000000000000000",
        asked_root: "rootpost000000000000000000",
        note: "for the launch",
    }
}

async fn share_requests_are_numbered_one_pending_per_channel_and_decided_once(store: Store) {
    let first = store
        .add_share_request(&share_sample("channel-a", "member-1"), "{}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((first.number, first.state), (1, ShareState::Pending));
    // The same channel and connection again: the open request is answered, nothing added.
    let again = store
        .add_share_request(&share_sample("channel-a", "member-2"), "{}")
        .await
        .unwrap();
    assert_eq!(again.unwrap_err().id, first.id);
    // Two requests at once get two numbers.
    let (sample_b, sample_c) = (
        share_sample("channel-b", "member-1"),
        share_sample("channel-c", "member-1"),
    );
    let (b, c) = tokio::join!(
        store.add_share_request(&sample_b, "{}"),
        store.add_share_request(&sample_c, "{}")
    );
    let mut numbers = vec![b.unwrap().unwrap().number, c.unwrap().unwrap().number];
    numbers.sort();
    assert_eq!(numbers, vec![2, 3]);
    // Concurrent decisions: exactly one wins, and only it is in the audit.
    let (x, y, z) = tokio::join!(
        store.decide_share_request(&first.id, ShareState::Approved, "admin-1", "", "{}"),
        store.decide_share_request(&first.id, ShareState::Denied, "admin-2", "no", "{}"),
        store.decide_share_request(&first.id, ShareState::Withdrawn, "member-1", "", "{}"),
    );
    let won = [x.unwrap(), y.unwrap(), z.unwrap()];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{won:?}");
    let actions: Vec<String> = store
        .audit_for(&first.id)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert_eq!(actions.len(), 2, "{actions:?}");
    assert_eq!(actions[0], "share.requested");
    // Only the asker may withdraw.
    let b = store.share_request_by_number(2).await.unwrap().unwrap();
    assert!(!store
        .decide_share_request(&b.id, ShareState::Withdrawn, "someone-else", "", "{}")
        .await
        .unwrap());
    assert!(store
        .decide_share_request(&b.id, ShareState::Withdrawn, "member-1", "", "{}")
        .await
        .unwrap());
    // A decided channel can be asked for again.
    let decided = store
        .add_share_request(&share_sample("channel-a", "member-2"), "{}")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(decided.number, 4);
    // The work left: pending ones not fanned out, decided ones not finished.
    let left: Vec<i64> = store
        .unfinished_share_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(left, vec![1, 2, 3, 4]);
    store.share_request_fanned_out(&decided.id).await.unwrap();
    store
        .share_request_applied(&first.id, "shared")
        .await
        .unwrap();
    store
        .share_request_applied(&first.id, "waiting")
        .await
        .unwrap();
    store.share_request_finished(&first.id).await.unwrap();
    let first = store.share_request(&first.id).await.unwrap().unwrap();
    assert_eq!(first.applied, "shared", "applied once");
    let left: Vec<i64> = store
        .unfinished_share_requests()
        .await
        .unwrap()
        .iter()
        .map(|r| r.number)
        .collect();
    assert_eq!(left, vec![2, 3]);
}

async fn share_request_posts_are_claimed_once(store: Store) {
    let request = store
        .add_share_request(&share_sample("channel-a", "member-1"), "{}")
        .await
        .unwrap()
        .unwrap();
    let (a, b) = tokio::join!(
        store.claim_share_post(&request.id, "admin-1", "dm-1", ""),
        store.claim_share_post(&request.id, "admin-1", "dm-1", "")
    );
    assert_eq!([a.unwrap(), b.unwrap()].iter().filter(|f| **f).count(), 1);
    store
        .share_post_sent(&request.id, "admin-1", "post-1", "pending:", "kid")
        .await
        .unwrap();
    let found = store.share_post_by_post("post-1").await.unwrap().unwrap();
    assert_eq!(
        (found.recipient.as_str(), found.shown.as_str()),
        ("admin-1", "pending:")
    );
    store
        .share_post_shown(&request.id, "admin-1", "approved:shared")
        .await
        .unwrap();
    store
        .forget_share_post_for_tests(&request.id, "admin-1")
        .await
        .unwrap();
    let posts = store.share_posts(&request.id).await.unwrap();
    assert_eq!(posts.len(), 1);
    assert_eq!(posts[0].post_id, None);
    assert_eq!(posts[0].shown, "approved:shared");
}

/// A write that reads first (the next rule's position) while another connection holds the
/// write lock waits for it and then succeeds. On SQLite a transaction begun deferred would
/// read a snapshot, then fail at once with "database is locked" when the other writer
/// commits (its snapshot is stale, and no busy timeout helps): seen as "sharebot's database is
/// not answering right now" on `rule add` while the reconcile loop was writing.
async fn a_write_waits_for_another_writer_rather_than_failing(db: TestDb) {
    use sqlx::Connection;
    let mut other = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let lock = if db.url.starts_with("sqlite") {
        "BEGIN IMMEDIATE"
    } else {
        "BEGIN"
    };
    sqlx::query(lock).execute(&mut other).await.unwrap();
    sqlx::query("INSERT INTO kv (key, value, updated_at) VALUES ('other-writer', 'x', 0)")
        .execute(&mut other)
        .await
        .unwrap();
    let detail = |r: &sharebot::store::StoredRule| format!("rule {}", r.position);
    let store = db.store.clone();
    let adding = tokio::spawn(async move {
        let rule = new_rule("eng-*", RuleAction::Review { suggest: None });
        store
            .add_rule(
                &rule,
                RuleAudit {
                    actor: "admin1",
                    detail: &detail,
                },
            )
            .await
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    sqlx::query("COMMIT").execute(&mut other).await.unwrap();
    let made = adding
        .await
        .unwrap()
        .expect("the rule is added once the other writer is done");
    assert_eq!(made.position, 1);
    assert_eq!(db.store.rules(&made.rule.remote_id).await.unwrap().len(), 1);
    other.close().await.unwrap();
    db.finish().await;
}

mod another_writer {
    #[tokio::test]
    async fn sqlite_a_write_waits_for_another_writer_rather_than_failing() {
        let db = super::TestDb::sqlite().await;
        super::a_write_waits_for_another_writer_rather_than_failing(db).await;
    }

    #[tokio::test]
    async fn postgres_a_write_waits_for_another_writer_rather_than_failing() {
        if let Some(db) = super::TestDb::postgres().await {
            super::a_write_waits_for_another_writer_rather_than_failing(db).await;
        }
    }
}
