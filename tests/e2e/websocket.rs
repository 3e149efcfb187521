//! The WebSocket client transport: the host connects to a server, runs the
//! driver on its messages, answers only after commit, and reconnects when
//! the server drops the connection.

use std::sync::Arc;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;

use meterhub_testkit::{Host, default_config, plugins_dir, reading};

const TS: i64 = 1_763_719_200_000;

async fn next_text(ws: &mut tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>) -> serde_json::Value {
    loop {
        match tokio::time::timeout(std::time::Duration::from_secs(30), ws.next()).await.expect("an answer in time") {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).expect("answer is JSON"),
            Some(Ok(_)) => continue,
            other => panic!("connection ended: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_messages_are_acknowledged_after_commit_and_the_host_reconnects() {
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/ws", server.local_addr().unwrap());
    let config = default_config(&plugins_dir("wasm")).replace(
        "[drivers.http-in]",
        &format!("[drivers.ws-in]\nplugin = \"listener\"\ntransport = \"websocket\"\nurl = \"{url}\"\nreconnect_min_ms = 20\nreconnect_max_ms = 200\n\n[drivers.http-in]"),
    );
    let host = Arc::new(tokio::task::spawn_blocking(move || Host::start_with(&config)).await.unwrap());

    // First connection: two readings in one message, then the server hangs up.
    let (stream, _) = server.accept().await.unwrap();
    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
    let message = format!("{}{}", reading("w1", "volume", TS, "1"), reading("w1", "volume", TS + 1000, "2"));
    ws.send(Message::text(message)).await.unwrap();
    let (a1, a2) = (next_text(&mut ws).await, next_text(&mut ws).await);
    assert_eq!((a1["ok"].as_bool(), a1["line"].as_u64()), (Some(true), Some(1)), "{a1}");
    assert_eq!((a2["ok"].as_bool(), a2["line"].as_u64()), (Some(true), Some(2)), "{a2}");
    ws.close(None).await.unwrap();
    drop(ws);

    // The host comes back by itself; a bad reading gets an error naming the field.
    let (stream, _) = tokio::time::timeout(std::time::Duration::from_secs(30), server.accept()).await.unwrap().unwrap();
    let mut ws = tokio_tungstenite::accept_async(stream).await.unwrap();
    ws.send(Message::text(reading("w1", "volume", TS + 2000, "3"))).await.unwrap();
    ws.send(Message::text(format!("{{\"device\":\"w1\",\"channel\":\"volume\",\"ts\":{TS},\"value\":[]}}")))
        .await
        .unwrap();
    let a3 = next_text(&mut ws).await;
    let a4 = next_text(&mut ws).await;
    assert_eq!(a3["ok"], true, "{a3}");
    assert_eq!(a4["ok"], false, "{a4}");
    assert!(a4["error"].as_str().unwrap().contains("value"), "{a4}");

    let host2 = host.clone();
    let stats = tokio::task::spawn_blocking(move || host2.settled_stats(4)).await.unwrap();
    let w = &stats["sources"]["ws-in"];
    assert_eq!((w["archived"].as_u64(), w["rejected"].as_u64()), (Some(3), Some(1)), "{stats}");
    let drivers = host.get_ok("/api/v1/drivers");
    assert!(drivers.to_string().contains(&url), "{drivers}");
}
