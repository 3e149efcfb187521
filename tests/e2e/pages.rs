//! Personal pages through the API: the built-in start page, a user's own
//! kept across a restart, one published to a role by an admin and seen by
//! that role's users until they compose their own, and every setting
//! checked.

use serde_json::{Value, json};

use meterhub_testkit::{Host, add_user, browser, http, login_ok};

fn kinds(answer: &Value) -> Vec<&str> {
    answer["page"]["widgets"].as_array().unwrap().iter().map(|w| w["kind"].as_str().unwrap()).collect()
}

#[test]
fn a_users_page_is_kept_a_roles_page_is_an_admins_to_publish_and_settings_are_checked() {
    let mut host = Host::start();
    add_user(&host, &["dina", "--role", "dispatcher", "--grant", "*"], "dina's password");
    add_user(&host, &["vera", "--role", "viewer", "--grant", "*/Север"], "vera's password");
    let (dina, vera) = (login_ok(host.api, "dina", "dina's password"), login_ok(host.api, "vera", "vera's password"));

    let built_in = browser(host.api, &dina, "GET", "/api/v1/page", false, "").json();
    assert_eq!((built_in["origin"].as_str(), kinds(&built_in)), (Some("built-in"), vec!["silent", "values"]));

    let refused =
        browser(host.api, &dina, "PUT", "/api/v1/page", true, r#"{"widgets": [{"kind": "chart", "hours": 0}]}"#);
    assert_eq!(refused.status, 400);
    assert!(
        refused.json()["error"].as_str().unwrap().contains("widgets[0].hours: 0 is not 1 to 744"),
        "{}",
        refused.json()
    );
    let mine = json!({ "widgets": [
        { "kind": "chart", "meters": ["gas-1"], "channel": "volume", "hours": 48, "wide": true, "title": "Газ, <двое суток>" },
        { "kind": "values", "meters": ["gas-1", "water-1"] },
        { "kind": "report", "report": "daily" },
    ] });
    let saved = browser(host.api, &dina, "PUT", "/api/v1/page", true, &mine.to_string());
    assert_eq!(saved.status, 200, "{}", saved.json());
    assert_eq!(saved.json()["origin"], "user");
    let forged = browser(host.api, &dina, "PUT", "/api/v1/page", false, &mine.to_string());
    assert_eq!(forged.status, 403, "no CSRF token");

    // An admin publishes a page to the viewers; a viewer may not.
    let published = json!({ "widgets": [{ "kind": "values", "meters": ["gas-1", "water-1"] }, { "kind": "silent" }] });
    let (status, _) = http(host.api, "PUT", "/api/v1/pages/roles/viewer", published.to_string().as_bytes());
    assert_eq!(status, 200);
    assert_eq!(browser(host.api, &vera, "PUT", "/api/v1/pages/roles/viewer", true, &mine.to_string()).status, 403);
    assert_eq!(http(host.api, "PUT", "/api/v1/pages/roles/chief", b"{\"widgets\": []}").0, 404);

    host.stop();
    host.restart();
    let (dina, vera) = (login_ok(host.api, "dina", "dina's password"), login_ok(host.api, "vera", "vera's password"));
    let hers = browser(host.api, &dina, "GET", "/api/v1/page", false, "").json();
    assert_eq!(hers["page"], mine, "kept across a restart, exactly");
    let viewer = browser(host.api, &vera, "GET", "/api/v1/page", false, "").json();
    assert_eq!((viewer["origin"].as_str(), kinds(&viewer)), (Some("role"), vec!["values", "silent"]), "{viewer}");
    assert_eq!(viewer["saved_by"], "local", "the local admin token published it");

    // Her own page, then back to the role's.
    let own = json!({ "widgets": [{ "kind": "silent" }] });
    assert_eq!(browser(host.api, &vera, "PUT", "/api/v1/page", true, &own.to_string()).json()["origin"], "user");
    let back = browser(host.api, &vera, "DELETE", "/api/v1/page", true, "");
    assert_eq!((back.json()["origin"].as_str(), kinds(&back.json())), (Some("role"), vec!["values", "silent"]));
    // Unpublished: the built-in page.
    assert_eq!(http(host.api, "DELETE", "/api/v1/pages/roles/viewer", b"").0, 200);
    assert_eq!(browser(host.api, &vera, "GET", "/api/v1/page", false, "").json()["origin"], "built-in");
}
