use serde_json::json;

use super::*;

const T0: i64 = 1_796_000_000_000;

fn new(device: &str, name: &str) -> NewCommand {
    NewCommand {
        driver: "meters".to_owned(),
        device: device.to_owned(),
        name: name.to_owned(),
        args: json!({ "minutes": 30 }),
        expires_in_s: 3600,
        by: "olga".to_owned(),
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

fn states(commands: &Commands) -> Vec<(u64, &'static str, u32)> {
    let mut all = commands.list("meters", &Filter::default(), 100, T0).expect("list");
    all.reverse();
    all.iter().map(|r| (r.id, r.state.as_str(), r.attempts)).collect()
}

#[test]
fn a_command_waits_for_its_device_and_is_answered_once() {
    let dir = tempfile::tempdir().expect("dir");
    let commands = Commands::open(dir.path(), T0).expect("open");
    let rt = runtime();
    let a = rt.block_on(commands.queue(new("AA", "set_push_period"), T0)).expect("queue");
    let b = rt.block_on(commands.queue(new("AA", "set_clock"), T0 + 1)).expect("queue");
    let other = rt.block_on(commands.queue(new("BB", "set_clock"), T0 + 2)).expect("queue");
    assert!(a.id < b.id && b.id < other.id, "ids rise");
    assert!(commands.hand_out("other-driver", "AA", T0).expect("hand out").is_empty(), "per driver");

    let handed = commands.hand_out("meters", "AA", T0 + 10).expect("hand out");
    assert_eq!(
        handed.iter().map(|c| (c.id, c.name.as_str())).collect::<Vec<_>>(),
        [(a.id, "set_push_period"), (b.id, "set_clock")]
    );
    assert_eq!(handed[0].args, r#"{"minutes":30}"#);
    assert!(commands.hand_out("meters", "AA", T0 + 11).expect("again").is_empty(), "handed once");

    let done = CommandDone { id: a.id, outcome: Ok("push every 30 min".to_owned()) };
    let record = commands.done("meters", done.clone(), T0 + 20).expect("done").expect("recorded");
    assert_eq!((record.state, record.answer.as_deref()), (CommandState::Answered, Some("push every 30 min")));
    assert_eq!(commands.done("meters", done, T0 + 21).expect("twice"), None, "a final command stays final");
    let refused = CommandDone { id: b.id, outcome: Err("read-write-denied (3)".to_owned()) };
    assert_eq!(commands.done("elsewhere", refused.clone(), T0).expect("done"), None, "another driver's");
    commands.done("meters", refused, T0 + 22).expect("done");
    assert_eq!(states(&commands), [(a.id, "answered", 1), (b.id, "failed", 1), (other.id, "queued", 0)]);
    let only = Filter { device: Some("BB".to_owned()), state: Some(CommandState::Queued) };
    assert_eq!(commands.list("meters", &only, 10, T0).expect("list").len(), 1);
}

#[test]
fn a_session_that_ends_unanswered_gives_its_commands_back_until_the_attempts_run_out() {
    let dir = tempfile::tempdir().expect("dir");
    let commands = Commands::open(dir.path(), T0).expect("open");
    let a = runtime().block_on(commands.queue(new("AA", "set_clock"), T0)).expect("queue");
    for attempt in 1..=MAX_ATTEMPTS {
        let handed = commands.hand_out("meters", "AA", T0 + i64::from(attempt)).expect("hand out");
        assert_eq!(handed.len(), 1, "attempt {attempt}");
        commands.take_back(&[a.id], "the connection ended", T0 + 100).expect("take back");
    }
    let record = commands.get("meters", a.id, T0 + 200).expect("get");
    assert_eq!(record.state, CommandState::Failed);
    assert_eq!(record.error.as_deref(), Some("no answer after 3 attempts (the last: the connection ended)"));
    assert!(commands.hand_out("meters", "AA", T0 + 300).expect("hand out").is_empty());
}

#[test]
fn a_killed_host_queues_again_what_it_had_sent_and_keeps_what_was_answered() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = {
        let commands = Commands::open(dir.path(), T0).expect("open");
        let rt = runtime();
        let a = rt.block_on(commands.queue(new("AA", "set_clock"), T0)).expect("queue");
        let b = rt.block_on(commands.queue(new("AA", "set_push_period"), T0)).expect("queue");
        commands.hand_out("meters", "AA", T0 + 1).expect("hand out");
        commands.done("meters", CommandDone { id: b.id, outcome: Ok("ok".to_owned()) }, T0 + 2).expect("done");
        rt.block_on(commands.store.flush()).expect("flush");
        // No close: the process dies here.
        (a, b)
    };
    let commands = Commands::open(dir.path(), T0 + 5).expect("reopen");
    let record = commands.get("meters", a.id, T0 + 5).expect("get");
    assert_eq!((record.state, record.attempts), (CommandState::Queued, 1));
    assert_eq!(record.error.as_deref(), Some("the host stopped before the device answered"));
    assert_eq!(commands.get("meters", b.id, T0 + 5).expect("get").state, CommandState::Answered);
    let handed = commands.hand_out("meters", "AA", T0 + 6).expect("hand out");
    assert_eq!(handed.iter().map(|c| c.id).collect::<Vec<_>>(), [a.id]);
    let later = commands.queue(new("AA", "set_clock"), T0 + 7);
    assert!(runtime().block_on(later).expect("queue").id > b.id, "ids keep rising across a restart");
}

#[test]
fn time_runs_out_and_an_operator_may_cancel_only_what_is_queued() {
    let dir = tempfile::tempdir().expect("dir");
    let commands = Commands::open(dir.path(), T0).expect("open");
    let rt = runtime();
    let short = rt.block_on(commands.queue(NewCommand { expires_in_s: 60, ..new("AA", "set_clock") }, T0)).expect("q");
    let long = rt.block_on(commands.queue(new("AA", "set_push_period"), T0)).expect("queue");
    let handed = commands.hand_out("meters", "AA", T0 + 61_000).expect("hand out");
    assert_eq!(handed.iter().map(|c| c.id).collect::<Vec<_>>(), [long.id], "the expired one is not sent");
    assert_eq!(commands.get("meters", short.id, T0).expect("get").state, CommandState::Expired);

    let c = rt.block_on(commands.queue(new("BB", "set_clock"), T0)).expect("queue");
    let cancelled = rt.block_on(commands.cancel("meters", c.id, "ivan", T0 + 1)).expect("cancel");
    assert_eq!((cancelled.state, cancelled.cancelled_by.as_deref()), (CommandState::Cancelled, Some("ivan")));
    assert!(commands.hand_out("meters", "BB", T0 + 2).expect("hand out").is_empty());
    let again = rt.block_on(commands.cancel("meters", long.id, "ivan", T0 + 3)).unwrap_err();
    assert_eq!(again.to_string(), format!("command {} is sent; only a queued command can be cancelled", long.id));
    let missing = rt.block_on(commands.cancel("other", c.id, "ivan", T0)).unwrap_err();
    assert_eq!(missing.to_string(), format!("driver other has no command {}", c.id));
    let listed = commands.list("meters", &Filter::default(), 100, T0 + 2 * 3_600_000).expect("list");
    assert!(listed.iter().all(|r| r.state.is_final() || r.state == CommandState::Sent), "{listed:?}");
}

#[test]
fn bad_requests_are_refused_naming_the_field() {
    let dir = tempfile::tempdir().expect("dir");
    let commands = Commands::open(dir.path(), T0).expect("open");
    let rt = runtime();
    let refused = |n: NewCommand| rt.block_on(commands.queue(n, T0)).unwrap_err().to_string();
    assert_eq!(
        refused(new("", "set_clock")),
        "device: \"\" is not a device name (1 to 128 bytes, no control characters)"
    );
    assert_eq!(refused(NewCommand { args: json!([1]), ..new("AA", "x") }), "args: expected a JSON object");
    assert_eq!(
        refused(NewCommand { args: json!({ "x": "y".repeat(5000) }), ..new("AA", "x") }),
        "args: 5008 bytes, more than 4096"
    );
    assert_eq!(
        refused(NewCommand { expires_in_s: 0, ..new("AA", "x") }),
        "expires_in_s: 0 is not between 1 and 7776000 (90 days)"
    );
    for _ in 0..MAX_QUEUED_PER_DEVICE {
        rt.block_on(commands.queue(new("CC", "set_clock"), T0)).expect("queue");
    }
    assert!(refused(new("CC", "set_clock")).starts_with("device CC of driver meters has 100 commands queued already"));
    assert_eq!(CommandState::parse("sent"), Ok(CommandState::Sent));
    assert_eq!(
        CommandState::parse("done").unwrap_err(),
        "state \"done\" is not one of queued, sent, answered, failed, expired, cancelled"
    );
}
