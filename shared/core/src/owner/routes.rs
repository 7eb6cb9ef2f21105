//! The owner's routes, on the same router as the webhooks (`serve`, and
//! the ingest function on AWS): `GET /owner/threads/{id}?t=…` shows a
//! thread; its forms post to `…/reply`, `…/done`, `…/later`, `…/reopen`.
//! A GET never changes anything (mail scanners and link previews open
//! every link); every form needs the link's token and the form token
//! bound to it. The tokens are in no log line: nothing here logs a URL.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

use crate::config::{Config, Owner};
use crate::domain::{ThreadChange, ThreadId};
use crate::owner::page::{self, Notice, Refusal};
use crate::owner::reply::{window_closed, Reply, MAX_REPLY_CHARS};
use crate::owner::{page_path, LinkRefused};
use crate::ports::{Clock, Job, Queue, Store, ThreadWithMessages};

/// The thread's page, as axum and API Gateway both write a path parameter.
pub const PAGE: &str = "/owner/threads/{id}";

/// What the page's forms do, each `POST {PAGE}/{action}`.
pub const ACTIONS: [&str; 4] = ["reply", "done", "later", "reopen"];

/// Every route of the owner's, by method and path (the template routes
/// exactly these to the ingest function).
pub fn served() -> Vec<(&'static str, String)> {
    let mut routes = vec![("GET", PAGE.to_string())];
    routes.extend(
        ACTIONS
            .iter()
            .map(|action| ("POST", format!("{PAGE}/{action}"))),
    );
    routes
}

/// The longest "later" a form may ask: a season.
const LONGEST_SNOOZE: Duration = Duration::days(92);

struct Desk {
    config: Arc<Config>,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
}

/// The owner's routes; none without `[owner]`.
pub fn routes(
    config: Arc<Config>,
    store: Arc<dyn Store>,
    queue: Arc<dyn Queue>,
    clock: Arc<dyn Clock>,
) -> Router {
    if config.owner.is_none() {
        return Router::new();
    }
    let [reply_path, done_path, later_path, reopen_path] = ACTIONS.map(|a| format!("{PAGE}/{a}"));
    Router::new()
        .route(PAGE, get(show))
        .route(&reply_path, post(reply))
        .route(&done_path, post(done))
        .route(&later_path, post(later))
        .route(&reopen_path, post(reopen))
        .with_state(Arc::new(Desk {
            config,
            store,
            queue,
            clock,
        }))
}

#[derive(Deserialize)]
struct Opened {
    #[serde(default)]
    t: String,
    done: Option<String>,
}

#[derive(Deserialize)]
struct Posted {
    #[serde(default)]
    t: String,
    #[serde(default)]
    form_token: String,
    text: Option<String>,
    until: Option<String>,
}

impl Desk {
    fn owner(&self) -> &Owner {
        self.config
            .owner
            .as_ref()
            .expect("routes exist only with [owner]")
    }

    fn refuse(&self, status: StatusCode, why: Refusal) -> Response {
        let page = Html(page::refused(&self.config, why));
        (status, [(header::CACHE_CONTROL, "no-store")], page).into_response()
    }

    /// The thread the link opens, or the page that says why not.
    async fn open(&self, id: &str, token: &str) -> Result<ThreadWithMessages, Response> {
        let Ok(id) = ThreadId::parse(id) else {
            return Err(self.refuse(StatusCode::NOT_FOUND, Refusal::Gone));
        };
        match self.owner().links.check_link(&id, token, self.clock.now()) {
            Ok(()) => {}
            Err(LinkRefused::Invalid) => {
                return Err(self.refuse(StatusCode::FORBIDDEN, Refusal::Invalid))
            }
            Err(LinkRefused::Expired) => {
                return Err(self.refuse(StatusCode::FORBIDDEN, Refusal::Expired))
            }
        }
        match self.store.thread(&id).await {
            Ok(Some(found)) => Ok(found),
            Ok(None) => Err(self.refuse(StatusCode::NOT_FOUND, Refusal::Gone)),
            Err(e) => {
                tracing::error!(error = %e, "owner's page: store unavailable");
                Err(unavailable())
            }
        }
    }

    /// As `open`, for a form: its form token must go with the link's.
    async fn open_form(&self, id: &str, form: &Posted) -> Result<ThreadWithMessages, Response> {
        let found = self.open(id, &form.t).await?;
        if !self
            .owner()
            .links
            .check_form(&found.thread.id, &form.t, &form.form_token)
        {
            return Err(self.refuse(StatusCode::FORBIDDEN, Refusal::Form));
        }
        Ok(found)
    }

    /// Back to the page, saying what happened (post, redirect, get: a
    /// reload does not post again).
    fn back(&self, found: &ThreadWithMessages, token: &str, notice: Notice) -> Response {
        let location = format!(
            "{}?t={token}&done={}",
            page_path(&found.thread.id),
            notice.as_str()
        );
        (StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response()
    }

    async fn change(
        &self,
        id: &str,
        form: &Posted,
        change: ThreadChange,
        notice: Notice,
    ) -> Response {
        let found = match self.open_form(id, form).await {
            Ok(found) => found,
            Err(refused) => return refused,
        };
        match self
            .store
            .change_thread(&found.thread.id, change, self.clock.now())
            .await
        {
            Ok(true) => {
                tracing::info!(thread = %found.thread.id, action = notice.as_str(), "owner changed a thread");
                self.back(&found, &form.t, notice)
            }
            Ok(false) => self.back(&found, &form.t, Notice::Unchanged),
            Err(e) => {
                tracing::error!(error = %e, "owner's action: store unavailable");
                unavailable()
            }
        }
    }
}

fn unavailable() -> Response {
    (StatusCode::SERVICE_UNAVAILABLE, "try again in a moment\n").into_response()
}

fn bad_request(what: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{what}\n")).into_response()
}

async fn show(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Query(opened): Query<Opened>,
) -> Response {
    let found = match desk.open(&id, &opened.t).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let form_token = desk.owner().links.form_token(&found.thread.id, &opened.t);
    let notice = opened.done.as_deref().and_then(Notice::parse);
    let page = page::thread(
        &desk.config,
        &found,
        &opened.t,
        &form_token,
        desk.clock.now(),
        notice,
    );
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(page),
    )
        .into_response()
}

async fn reply(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let found = match desk.open_form(&id, &form).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let text = form.text.as_deref().unwrap_or_default().trim();
    if text.is_empty() {
        return bad_request("text: the answer is empty");
    }
    if text.chars().count() > MAX_REPLY_CHARS {
        return bad_request(&format!("text: longer than {MAX_REPLY_CHARS} characters"));
    }
    let now = desk.clock.now();
    if found.thread.status == crate::domain::ThreadStatus::Closed
        || window_closed(&found, now).is_some()
    {
        // The page offered no form for it: it changed since it was shown.
        return desk.back(&found, &form.t, Notice::Unchanged);
    }
    let reply = Reply::new(found.thread.id.clone(), found.thread.channel, text, now);
    if let Err(e) = desk.queue.enqueue(&[Job::Reply(reply)]).await {
        tracing::error!(error = %e, "owner's reply: queue unavailable");
        return unavailable();
    }
    tracing::info!(thread = %found.thread.id, channel = %found.thread.channel, "owner's reply queued");
    desk.back(&found, &form.t, Notice::Replied)
}

async fn done(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    desk.change(&id, &form, ThreadChange::Close, Notice::Done)
        .await
}

async fn reopen(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    desk.change(&id, &form, ThreadChange::Reopen, Notice::Reopened)
        .await
}

async fn later(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let now = desk.clock.now();
    let until = form
        .until
        .as_deref()
        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .map(|u| u.with_timezone(&Utc))
        .filter(|u| *u > now && *u <= now + LONGEST_SNOOZE);
    let Some(until) = until else {
        return bad_request("until: not a time to come within three months");
    };
    desk.change(&id, &form, ThreadChange::Snooze { until }, Notice::Later)
        .await
}
