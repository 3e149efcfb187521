//! `GET /api/v1/reports/{kind}` (`docs/reports.md`): a report of what the
//! user may see, as JSON for the UI's table (each cell as the page shows it
//! and as the CSV writes it) or as a CSV, XLSX or PDF download. Made on a
//! blocking thread, so the runtime that takes readings in is not held up.

use std::collections::HashMap;

use hyper::StatusCode;
use meterhub_http::{self, HttpResponse};
use meterhub_report::{Align, Format, Report};
use serde_json::{Value, json};

use super::state::ApiState;
use super::visibility::Visibility;
use crate::auth::Principal;
use crate::reports::{Kind, ReportRequest, Sources};

/// The report as the UI's table.
pub fn report_json(report: &Report) -> Value {
    let columns: Vec<Value> = report
        .columns
        .iter()
        .map(|c| json!({ "key": c.key, "label": c.label, "align": if c.align == Align::Right { "right" } else { "left" } }))
        .collect();
    let rows: Vec<Value> = report
        .rows
        .iter()
        .map(|r| {
            json!({
                "kind": meterhub_report::csv::kind_code(r.kind),
                "cells": r.cells.iter().map(|c| meterhub_report::pdf::cell_text(c, report)).collect::<Vec<_>>(),
                "values": r.cells.iter().map(|c| meterhub_report::csv::cell_text(c, report)).collect::<Vec<_>>(),
            })
        })
        .collect();
    let parameters: Vec<Value> = report.parameters.iter().map(|(k, v)| json!({ "label": k, "value": v })).collect();
    json!({
        "kind": report.kind,
        "lang": report.lang.code(),
        "title": report.title,
        "parameters": parameters,
        "columns": columns,
        "rows": rows,
        "notes": report.notes,
    })
}

/// The file name of a downloaded report.
pub fn file_name(req: &ReportRequest, format: Format) -> String {
    format!("{}-{}-{}.{}", req.kind.as_str(), req.from, req.last_day(), format.extension())
}

/// Serves one report.
pub async fn handle(
    state: &ApiState,
    kind: &str,
    params: &HashMap<String, String>,
    principal: Option<Principal>,
) -> HttpResponse {
    let Some(kind) = Kind::parse(kind) else {
        return meterhub_http::error(
            StatusCode::NOT_FOUND,
            &format!("no such report: {kind:?} (there are: {})", Kind::NAMES),
        );
    };
    let format = match params.get("format").map(String::as_str) {
        None | Some("json") => None,
        Some(name) => match Format::parse(name) {
            Some(format) => Some(format),
            None => {
                return meterhub_http::error(
                    StatusCode::BAD_REQUEST,
                    &format!("format: expected json, csv, xlsx or pdf, got {name:?}"),
                );
            }
        },
    };
    let zone = jiff::tz::TimeZone::get(&state.accounting.default_zone).unwrap_or(jiff::tz::TimeZone::UTC);
    let today = jiff::Timestamp::from_millisecond(meterhub_storage::clock::now_ms())
        .map(|now| now.to_zoned(zone).date())
        .unwrap_or_default();
    let req = match ReportRequest::parse(kind, params, today) {
        Ok(req) => req,
        Err(why) => return meterhub_http::error(StatusCode::BAD_REQUEST, &why),
    };
    let board = match state.board() {
        Ok(board) => board,
        Err(response) => return *response,
    };
    let actor = principal.as_ref().map_or_else(|| "local".to_owned(), |p| p.user.clone());
    let seen = Visibility::for_principal(principal);
    let (archive, accounting) = (state.archive.clone(), state.accounting.clone());
    let alarms = state.view().alarms.clone();
    let made = tokio::task::spawn_blocking(move || {
        let sources = Sources { archive: &*archive, accounting: &accounting, board: &board, alarms: &alarms };
        let report = crate::reports::build(&sources, &seen, &req, &actor, meterhub_storage::clock::now_ms())
            .map_err(|e| e.to_string())?;
        let body = match format {
            Some(format) => Some(meterhub_report::render(&report, format)?),
            None => None,
        };
        Ok::<_, String>((req, report, body))
    })
    .await;
    match made {
        Ok(Ok((_, report, None))) => meterhub_http::json(StatusCode::OK, &report_json(&report)),
        Ok(Ok((req, _, Some(body)))) => {
            let format = format.unwrap_or(Format::Csv);
            let mut response = meterhub_http::response(StatusCode::OK, format.content_type(), body);
            let disposition = format!("attachment; filename=\"{}\"", file_name(&req, format));
            if let Ok(value) = hyper::header::HeaderValue::from_str(&disposition) {
                response.headers_mut().insert(hyper::header::CONTENT_DISPOSITION, value);
            }
            response
        }
        Ok(Err(why)) => {
            tracing::error!(report = kind.as_str(), error = %why, "report failed");
            meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the report failed: {why}"))
        }
        Err(e) => meterhub_http::error(StatusCode::INTERNAL_SERVER_ERROR, &format!("the report failed: {e}")),
    }
}

/// `GET /api/v1/report-runs`: the scheduled reports' results the user may
/// see (newest first per schedule), the schedules with their next run, and
/// what is being made now.
pub fn runs(state: &ApiState, principal: Option<Principal>) -> HttpResponse {
    let seen = Visibility::for_principal(principal);
    let scheduled = &state.scheduled;
    let runs: Vec<Value> = scheduled
        .runs()
        .into_iter()
        .filter(|r| crate::reports::scheduled::Scheduled::visible(r, &seen, &state.accounting))
        .map(|r| {
            json!({ "schedule": r.schedule, "period": r.period, "report": r.report, "title": r.title,
                    "made_at_ms": r.made_at_ms, "rows": r.rows, "files": r.files })
        })
        .collect();
    let config = state.view().reports.clone();
    let now_ms = meterhub_storage::clock::now_ms();
    let schedules: Vec<Value> = config
        .schedules
        .iter()
        .map(|s| {
            let clock = crate::reports::scheduled::clock(s, &state.accounting.default_zone);
            let next = clock.as_ref().and_then(|c| {
                let latest = c.latest_due(now_ms)?;
                c.due_ms(c.next(latest)?)
            });
            json!({ "id": s.id, "report": s.report, "every": match s.every {
                        crate::config::reports::Every::Day => "day",
                        crate::config::reports::Every::Month => "month",
                    },
                    "at": format!("{:02}:{:02}", s.at.0, s.at.1), "formats": s.formats, "next_run_ms": next })
        })
        .collect();
    meterhub_http::json(
        StatusCode::OK,
        &json!({ "runs": runs, "schedules": schedules, "running": scheduled.running(), "looked_at_ms": scheduled.looked_at_ms(),
                 "keep": config.keep }),
    )
}

/// `GET /api/v1/report-runs/{schedule}/{file}`: one result's file, for a
/// user who may see every meter it shows.
pub fn run_file(state: &ApiState, schedule: &str, file: &str, principal: Option<Principal>) -> HttpResponse {
    let seen = Visibility::for_principal(principal);
    let not_found = || meterhub_http::error(StatusCode::NOT_FOUND, &format!("no such result: {schedule}/{file}"));
    let Some((bytes, record)) = state.scheduled.file(schedule, file) else { return not_found() };
    if !crate::reports::scheduled::Scheduled::visible(&record, &seen, &state.accounting) {
        return not_found();
    }
    let format = file.rsplit_once('.').and_then(|(_, ext)| Format::parse(ext)).unwrap_or(Format::Csv);
    let mut response = meterhub_http::response(StatusCode::OK, format.content_type(), bytes);
    let disposition = format!("attachment; filename=\"{schedule}-{file}\"");
    if let Ok(value) = hyper::header::HeaderValue::from_str(&disposition) {
        response.headers_mut().insert(hyper::header::CONTENT_DISPOSITION, value);
    }
    response
}
