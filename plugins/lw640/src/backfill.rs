//! Back-fill from The Things Stack's Storage Integration: the uplinks a
//! webhook (or the MQTT server) did not bring while meterhub was away are
//! read from the server's storage and committed, so the gap closes by
//! itself.
//!
//! It runs on the instance's fetch session (the host opens it when the
//! instance has `[drivers.<id>.fetch]`, the server's API, e.g.
//! `https://eu1.cloud.thethings.network/api/v3`, with an API key that may
//! read application traffic). At the session's start and every
//! `backfill_interval_s` after, each application of
//! `backfill_applications` is read in turn:
//!
//! ```text
//! GET /as/applications/{app}/packages/storage/uplink_message
//!     ?after={mark}&before={now - settle}&limit={page}&order=received_at
//! Accept: text/event-stream
//! ```
//!
//! The answer is one JSON object per line, `{"result": ApplicationUp}` (or
//! `{"error": ...}` when the stream broke). Each stored uplink is read as
//! a webhook's `uplink_message` and committed raw-first: the frame's
//! payload is the line exactly, its content type [`TTS_STORAGE_JSON`],
//! its metadata the same `lorawan.*` a webhook's would have plus
//! [`META_STORAGE_APPLICATION`]. An uplink this instance committed already
//! (a repeat within the repeat window: it came live) is not committed
//! again, except the newest of a page, which carries the mark.
//!
//! Marks: per application, the server's `received_at` (ms) up to which
//! every stored uplink is committed, kept durably by the host under
//! [`resume_key`]. Only the newest uplink of a page read whole is marked,
//! and it is committed after the others, so a mark never passes an uplink
//! that is not committed. An application without a mark starts
//! `backfill_initial_s` back. A full page is followed at once by the next,
//! from the newest time read; a page that cannot move forward (more than a
//! page of uplinks in one millisecond) moves on by one millisecond.
//!
//! Failures: an unreachable server (the host logs it) leaves the
//! application to the next round; an answer other than 200, an `error`
//! line or a line that cannot be read is a `Reject` naming the
//! application, the status or line and what to check, and the rest of the
//! answer is still taken (but not marked past a broken stream).

use std::collections::{HashMap, VecDeque};

use meterhub_plugin_api::time::format_rfc3339_ms;
use meterhub_plugin_api::{
    Action, Commit, Event, Fetch, Fetched, HttpRequest, HttpResponse, META_RESUME_KEY, META_RESUME_MARK, Transport,
    lorawan,
};

use crate::envelope::{Envelope, Server};
use crate::error::Refusal;
use crate::frame;
use crate::json;
use crate::repeats::{Repeats, UplinkKey};
use crate::servers::tts;
use crate::settings::{BackfillSettings, Lw640Settings, ServerChoice};

/// The timer of the next round.
pub const TIMER: u32 = 1;
/// Content type of a stored uplink: one line of the Storage Integration's
/// answer, `{"result": ApplicationUp}`.
pub const TTS_STORAGE_JSON: &str = "application/vnd.tts.v3.storage+json";
/// Frame metadata: the application whose storage the uplink was read from.
pub const META_STORAGE_APPLICATION: &str = "tts.storage.application";

/// The resume key of application `app`.
pub fn resume_key(app: &str) -> String {
    format!("tts-storage:{app}")
}

/// One request in flight.
#[derive(Debug, Clone)]
struct Page {
    id: u32,
    app: String,
    after_ms: i64,
    before_ms: i64,
}

/// A commit in flight.
#[derive(Debug)]
struct Pending {
    app: String,
    mark: Option<i64>,
    first: Option<(UplinkKey, u64)>,
}

/// One stored uplink read from a line.
struct Stored<'a> {
    ts_ms: Option<i64>,
    envelope: Envelope,
    line: &'a [u8],
}

/// What a line of the answer holds.
enum Line {
    /// A stored uplink.
    Uplink(Box<Envelope>),
    /// A stored message of another kind.
    Other,
    /// The stream broke, as the server says.
    Error(String),
}

/// The back-fill state of one instance.
#[derive(Debug, Default)]
pub struct Backfill {
    session: Option<u64>,
    marks: HashMap<String, i64>,
    queue: VecDeque<String>,
    page: Option<Page>,
    pending: HashMap<u64, Pending>,
    next_token: u64,
    next_fetch: u32,
}

impl Backfill {
    /// The state of a new instance, with the host's marks.
    pub fn new(settings: &Lw640Settings) -> Backfill {
        let marks = settings
            .resume
            .iter()
            .filter_map(|(key, mark)| Some((key.strip_prefix("tts-storage:")?.to_owned(), *mark)))
            .collect();
        Backfill { marks, ..Backfill::default() }
    }

    /// Whether `event` of `session` is the fetch session's.
    pub fn owns(&self, session: u64, event: &Event) -> bool {
        matches!(event, Event::Opened { transport: Transport::Fetch, .. }) || self.session == Some(session)
    }

    /// The mark of application `app`, if it has one.
    pub fn mark(&self, app: &str) -> Option<i64> {
        self.marks.get(app).copied()
    }

    /// Handle `event` of the fetch session at host time `now_ms`.
    pub fn handle(
        &mut self,
        settings: &Lw640Settings,
        repeats: &mut Repeats,
        session: u64,
        now_ms: i64,
        event: Event,
    ) -> Vec<Action> {
        match event {
            Event::Opened { .. } => self.open(settings, session, now_ms),
            Event::Fetched(fetched) => match &settings.backfill {
                Some(b) => self.fetched(b, repeats, now_ms, fetched),
                None => Vec::new(),
            },
            Event::Committed(c) => {
                self.settle(repeats, c.token, true);
                Vec::new()
            }
            Event::CommitFailed(f) => {
                self.settle(repeats, f.token, false);
                Vec::new()
            }
            Event::Timer(TIMER) => match &settings.backfill {
                Some(b) => self.round(b, now_ms),
                None => Vec::new(),
            },
            Event::Timer(_) | Event::Commands(_) => Vec::new(),
            Event::Closed => {
                self.session = None;
                self.queue.clear();
                self.page = None;
                Vec::new()
            }
            Event::Data(_) | Event::Request(_) | Event::Message(_) => {
                vec![Action::Close("the fetch session takes fetch answers, commits and timers only".to_owned())]
            }
        }
    }

    fn open(&mut self, settings: &Lw640Settings, session: u64, now_ms: i64) -> Vec<Action> {
        if let ServerChoice::Fixed(server) = settings.server
            && server != Server::TtsV3
        {
            return vec![Action::Close(format!(
                "back-fill reads The Things Stack's Storage Integration; {} keeps no uplink history (remove the fetch section of this instance)",
                server.title()
            ))];
        }
        let Some(b) = &settings.backfill else {
            return vec![Action::Close(
                "the instance has a fetch section but no backfill_applications: name The Things Stack applications to back-fill"
                    .to_owned(),
            )];
        };
        self.session = Some(session);
        self.page = None;
        self.round(b, now_ms)
    }

    /// Start a round over every application.
    fn round(&mut self, b: &BackfillSettings, now_ms: i64) -> Vec<Action> {
        if self.page.is_some() {
            return Vec::new();
        }
        self.queue = b.applications.iter().cloned().collect();
        self.next(b, now_ms)
    }

    /// The request of the next application with something to read, or the
    /// timer of the next round.
    fn next(&mut self, b: &BackfillSettings, now_ms: i64) -> Vec<Action> {
        let before_ms = now_ms - b.settle_ms;
        while let Some(app) = self.queue.pop_front() {
            let after_ms = self.mark(&app).unwrap_or(now_ms - b.initial_ms);
            if after_ms < before_ms {
                return vec![self.request(b, app, after_ms, before_ms)];
            }
        }
        vec![Action::SetTimer { id: TIMER, after_ms: u32::try_from(b.interval_ms).unwrap_or(u32::MAX) }]
    }

    fn request(&mut self, b: &BackfillSettings, app: String, after_ms: i64, before_ms: i64) -> Action {
        self.next_fetch = self.next_fetch.wrapping_add(1);
        let id = self.next_fetch;
        let target = format!(
            "/as/applications/{app}/packages/storage/uplink_message?after={}&before={}&limit={}&order=received_at",
            format_rfc3339_ms(after_ms),
            format_rfc3339_ms(before_ms),
            b.page
        );
        self.page = Some(Page { id, app, after_ms, before_ms });
        Action::Fetch(Fetch {
            id,
            request: HttpRequest {
                method: "GET".to_owned(),
                target,
                headers: vec![("accept".to_owned(), "text/event-stream".to_owned())],
                body: Vec::new(),
            },
        })
    }

    fn fetched(&mut self, b: &BackfillSettings, repeats: &mut Repeats, now_ms: i64, fetched: Fetched) -> Vec<Action> {
        let Some(page) = self.page.take_if(|p| p.id == fetched.id) else { return Vec::new() };
        match fetched.response {
            // The host logged why; the application waits for the next round.
            Err(_) => self.next(b, now_ms),
            Ok(response) if response.status != 200 => {
                let mut actions = vec![Action::Reject { reason: refused(&page.app, &response), input: response.body }];
                actions.extend(self.next(b, now_ms));
                actions
            }
            Ok(response) => self.take(b, repeats, now_ms, page, &response.body),
        }
    }

    /// Commit what a 200 answer holds; then the next page or application.
    fn take(
        &mut self,
        b: &BackfillSettings,
        repeats: &mut Repeats,
        now_ms: i64,
        page: Page,
        body: &[u8],
    ) -> Vec<Action> {
        let mut actions = Vec::new();
        let (mut stored, mut lines, mut whole) = (Vec::new(), 0u32, true);
        for (n, line) in body.split(|&b| b == b'\n').enumerate() {
            let line = line.trim_ascii();
            if line.is_empty() {
                continue;
            }
            lines += 1;
            let place = format!("The Things Stack storage of application {:?}, answer line {}", page.app, n + 1);
            match read_line(line) {
                Ok(Line::Uplink(envelope)) => {
                    stored.push(Stored { ts_ms: envelope.server_ts_ms, envelope: *envelope, line })
                }
                Ok(Line::Other) => {}
                Ok(Line::Error(message)) => {
                    let reason = format!("{place}: the server broke off the answer: {message}");
                    actions.push(Action::Reject { reason, input: line.to_vec() });
                    whole = false;
                    break;
                }
                Err(refusal) => {
                    actions.push(Action::Reject { reason: format!("{place}: {refusal}"), input: line.to_vec() })
                }
            }
        }
        stored.sort_by_key(|s| s.ts_ms.unwrap_or(i64::MIN));
        let newest = stored.last().and_then(|s| s.ts_ms);
        let count = stored.len();
        for (i, s) in stored.into_iter().enumerate() {
            let mark = if whole && i + 1 == count { s.ts_ms } else { None };
            let extra = vec![(META_STORAGE_APPLICATION.to_owned(), page.app.clone())];
            let mut accepted = frame::build(&s.envelope, s.line, repeats, now_ms, extra);
            let repeat = accepted.frame.meta.iter().any(|(k, _)| k == lorawan::REPEAT);
            if repeat && mark.is_none() {
                continue;
            }
            accepted.frame.content_type = TTS_STORAGE_JSON.to_owned();
            if let Some(mark) = mark {
                accepted.frame.meta.push((META_RESUME_KEY.to_owned(), resume_key(&page.app)));
                accepted.frame.meta.push((META_RESUME_MARK.to_owned(), mark.to_string()));
            }
            self.next_token += 1;
            let token = self.next_token;
            self.pending.insert(token, Pending { app: page.app.clone(), mark, first: accepted.first });
            actions.push(Action::Commit(Commit { token, frame: accepted.frame }));
        }
        if whole && lines >= b.page {
            // A full page: more may wait, from the newest time read on.
            let from = newest.unwrap_or(page.after_ms);
            let after_ms = if from > page.after_ms { from } else { page.after_ms + 1 };
            if after_ms < page.before_ms {
                actions.push(self.request(b, page.app, after_ms, page.before_ms));
                return actions;
            }
        }
        actions.extend(self.next(b, now_ms));
        actions
    }

    /// The host's answer for a commit: a mark holds once its frame is
    /// stored; a first arrival whose frame is not is forgotten.
    fn settle(&mut self, repeats: &mut Repeats, token: u64, stored: bool) {
        let Some(p) = self.pending.remove(&token) else { return };
        match (stored, p.mark) {
            (true, Some(mark)) => {
                let entry = self.marks.entry(p.app).or_insert(mark);
                *entry = (*entry).max(mark);
            }
            (true, None) => {}
            (false, _) => {
                if let Some((key, serial)) = p.first {
                    repeats.forget(key, serial);
                }
            }
        }
    }
}

/// One line of the Storage Integration's answer.
fn read_line(line: &[u8]) -> Result<Line, Refusal> {
    let top = json::parse_object(line)?;
    if let Some(error) = top.get("error") {
        let message = match error.object() {
            Ok(e) => e.text("message")?.unwrap_or_else(|| error.compact()),
            Err(_) => error.compact(),
        };
        return Ok(Line::Error(bounded(&message)));
    }
    let result = top.require("result")?.object()?;
    let (key, event) = tts::message(&result)?;
    if event != lorawan::EVENT_UP {
        return Ok(Line::Other);
    }
    tts::read_message(&result, key, event).map(|envelope| Line::Uplink(Box::new(envelope)))
}

/// A server's message, cut at [`MESSAGE_BYTES`].
fn bounded(message: &str) -> String {
    match message.len() <= MESSAGE_BYTES {
        true => message.to_owned(),
        false => format!("{}...", &message[..message.floor_char_boundary(MESSAGE_BYTES)]),
    }
}

/// The longest server message quoted in a refusal.
const MESSAGE_BYTES: usize = 300;

/// The reason of a refused request: the status, the server's message, and
/// what to check.
fn refused(app: &str, response: &HttpResponse) -> String {
    // The server's own errors come as {"error": {"code", "message"}}, its
    // HTTP gateway's as {"code", "message"}.
    let message = json::parse_object(&response.body)
        .ok()
        .and_then(|top| match top.get("error").and_then(|e| e.object().ok()) {
            Some(error) => error.text("message").ok().flatten(),
            None => top.text("message").ok().flatten(),
        })
        .unwrap_or_else(|| String::from_utf8_lossy(&response.body).trim().to_owned());
    let hint = match response.status {
        401 | 403 => {
            "; check the API key in the instance's fetch token_file (it must be allowed to read the application's traffic)"
        }
        404 => "; check the application id and that the Storage Integration is enabled for it",
        _ => "",
    };
    let said = if message.is_empty() { String::new() } else { format!(": {}", bounded(&message)) };
    format!("The Things Stack storage of application {app:?} answered {}{said}{hint}", response.status)
}

#[cfg(test)]
mod tests;
