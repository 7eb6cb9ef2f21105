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
use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::config::{Config, Owner};
use crate::domain::{ThreadChange, ThreadId};
use crate::owner::later;
use crate::owner::page::{self, Notice, Refusal, View};
use crate::owner::reply::{check, Reply, Unsendable};
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
    reply_id: Option<String>,
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
        let links = &self.owner().links;
        if !links.check_form(&found.thread.id, &form.t, &form.form_token) {
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

    /// The page again, as `status`, saying what went wrong and giving the
    /// owner's unsent words back.
    fn again(
        &self,
        found: &ThreadWithMessages,
        form: &Posted,
        status: StatusCode,
        notice: Notice,
    ) -> Response {
        let view = View {
            link_token: &form.t,
            form_token: &form.form_token,
            notice: Some(notice),
            draft: form.text.as_deref().unwrap_or_default(),
        };
        let page = page::thread(&self.config, found, &view, self.clock.now());
        (status, [(header::CACHE_CONTROL, "no-store")], Html(page)).into_response()
    }

    async fn change(
        &self,
        found: &ThreadWithMessages,
        form: &Posted,
        change: ThreadChange,
        notice: Notice,
    ) -> Response {
        let at = self.clock.now();
        match self.store.change_thread(&found.thread.id, change, at).await {
            Ok(true) => {
                tracing::info!(thread = %found.thread.id, action = notice.as_str(), "owner changed a thread");
                self.back(found, &form.t, notice)
            }
            Ok(false) => self.back(found, &form.t, Notice::Unchanged),
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
    let view = View {
        link_token: &opened.t,
        form_token: &form_token,
        notice: opened.done.as_deref().and_then(Notice::parse),
        draft: "",
    };
    let page = page::thread(&desk.config, &found, &view, desk.clock.now());
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
    let now = desk.clock.now();
    let text = form.text.as_deref().unwrap_or_default();
    let again = |status, notice| desk.again(&found, &form, status, notice);
    match check(&found, text, now) {
        Ok(()) => {}
        // The page offered no form for it: it was closed since.
        Err(Unsendable::Closed) => return desk.back(&found, &form.t, Notice::Unchanged),
        Err(Unsendable::Empty) => return again(StatusCode::BAD_REQUEST, Notice::Empty),
        Err(Unsendable::TooLong { .. }) => return again(StatusCode::BAD_REQUEST, Notice::TooLong),
        Err(Unsendable::WindowClosed { .. }) => {
            return again(StatusCode::CONFLICT, Notice::WindowClosed)
        }
    }
    let reply_id = form.reply_id.as_deref().unwrap_or_default();
    let thread = found.thread.id.clone();
    let Ok(reply) = Reply::new(thread, found.thread.channel, reply_id, text, now) else {
        return desk.refuse(StatusCode::FORBIDDEN, Refusal::Form);
    };
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
    match desk.open_form(&id, &form).await {
        Ok(found) => {
            desk.change(&found, &form, ThreadChange::Close, Notice::Done)
                .await
        }
        Err(refused) => refused,
    }
}

async fn reopen(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    match desk.open_form(&id, &form).await {
        Ok(found) => {
            desk.change(&found, &form, ThreadChange::Reopen, Notice::Reopened)
                .await
        }
        Err(refused) => refused,
    }
}

async fn later(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<String>,
    Form(form): Form<Posted>,
) -> Response {
    let found = match desk.open_form(&id, &form).await {
        Ok(found) => found,
        Err(refused) => return refused,
    };
    let now = desk.clock.now();
    let until = form
        .until
        .as_deref()
        .and_then(|u| DateTime::parse_from_rfc3339(u).ok())
        .map(|u| u.with_timezone(&Utc))
        .filter(|u| later::accepts(*u, now));
    match until {
        Some(until) => {
            let change = ThreadChange::Snooze { until };
            desk.change(&found, &form, change, Notice::Later).await
        }
        // The page offers only times to come: one that has passed since.
        None => desk.back(&found, &form.t, Notice::Unchanged),
    }
}
