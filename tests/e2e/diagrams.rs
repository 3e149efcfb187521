//! Mimic diagrams as files: the host reads `host.diagrams_dir` as it
//! changes, serves each diagram's compiled form, names a refused file's
//! errors at `file:line:col` while its last good form stays served, and
//! reports bindings to meters or channels it does not know;
//! `meterhub diagram check` says the same on the command line.

use meterhub_testkit::line::send_acked;
use meterhub_testkit::{APPLY_DEADLINE, Host, binary, now_ms, reading, wait_for};

const GOOD: &str = r#"<Diagram Name="ГРП-1" Range="0,0,100,100">
  <Text position="10,10" id="volume">—</Text>
  <Rectangle position="5,5,95,95" color="336699"/>
  <Producer device="gas-1" channel="volume"><Action type="show_value" decimals="3" unit="м³"><Target id="volume"/></Action></Producer>
  <Producer device="gas-1" channel="pressure" when="above" value="0.6"><Action type="blink" value="on"><Target ordinal="2"/></Action></Producer>
  <Producer device="ghost" channel="volume"><Action type="change_color" value="ff0000"><Target ordinal="2"/></Action></Producer>
</Diagram>
"#;

#[test]
fn diagrams_are_read_as_they_change_and_a_refused_file_keeps_its_last_good_form() {
    let host = Host::start();
    send_acked(host.driver("tcp-in"), &[reading("gas-1", "volume", now_ms(), "\"12.5\"")]);
    host.settled_stats(1);
    let dir = host.config.parent().expect("the config's folder").join("diagrams");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("grp-1.xml");
    std::fs::write(&file, GOOD).unwrap();

    let list = host.get_ok("/api/v1/diagrams");
    let d = &list["diagrams"][0];
    assert_eq!(
        (d["name"].as_str(), d["ok"].as_bool(), d["served"].as_bool()),
        (Some("grp-1"), Some(true), Some(true)),
        "{list:#}"
    );
    assert_eq!((d["elements"].as_u64(), d["actions"].as_u64(), d["signals"].as_u64()), (Some(2), Some(3), Some(3)));
    let dangling: Vec<&str> = d["dangling"].as_array().unwrap().iter().filter_map(|v| v.as_str()).collect();
    assert_eq!(
        dangling,
        [
            "gas-1/pressure: meter \"gas-1\" has no channel \"pressure\" (it has: volume)",
            "ghost/volume: no meter \"ghost\"",
        ]
    );
    let compiled = host.get_ok("/api/v1/diagrams/grp-1");
    assert_eq!((compiled["name"].as_str(), compiled["elements"][0]["k"].as_str()), (Some("ГРП-1"), Some("text")));

    // An edit that breaks the file: named at its place; the last good form stays served.
    let broken = GOOD.replace(r#"color="336699""#, r#"color="blue""#);
    std::fs::write(&file, &broken).unwrap();
    let refused = wait_for("the edit to be read", APPLY_DEADLINE, || {
        let list = host.get_ok("/api/v1/diagrams");
        (list["diagrams"][0]["ok"] == false).then_some(list)
    });
    let errors = &refused["diagrams"][0]["errors"];
    let expected = format!("{}:3:3: <Rectangle>: \"blue\" is not a colour", file.display());
    assert!(errors[0].as_str().is_some_and(|e| e.starts_with(&expected)), "{errors:#}");
    // Without the rectangle, the ordinal that named it names nothing: said where it is written.
    let ordinal = format!("{}:5:", file.display());
    assert!(
        errors[1].as_str().is_some_and(|e| e.starts_with(&ordinal) && e.contains("ordinal 2 names no element")),
        "{errors:#}"
    );
    assert_eq!(refused["diagrams"][0]["served"], true);
    assert_eq!(host.get_ok("/api/v1/diagrams/grp-1")["elements"][1]["c"], "336699", "the last good form");
    assert_eq!(host.get("/api/v1/diagrams/nothing").0, 404);

    // The images `Image` elements name, from the folder itself only.
    let png = b"\x89PNG\r\n\x1a\n a plant's photo";
    std::fs::write(dir.join("plant.png"), png).unwrap();
    std::fs::write(dir.join("drawing.svg"), "<svg/>").unwrap();
    let bearer = format!("Bearer {}", host.token);
    let r = meterhub_testkit::request(
        host.api,
        "GET",
        "/api/v1/diagram-images/plant.png",
        &[("Authorization", bearer.as_str())],
        b"",
    );
    assert_eq!((r.status, r.body.as_slice()), (200, png.as_slice()));
    assert_eq!(r.header("content-type"), Some("image/png"));
    for refused in ["drawing.svg", "..%2Fmeterhub.toml", "nothing.png"] {
        let (status, _) = meterhub_testkit::http(host.api, "GET", &format!("/api/v1/diagram-images/{refused}"), b"");
        assert_eq!(status, 404, "{refused}");
    }

    // The command line says the same.
    let out = std::process::Command::new(binary()).args(["diagram", "check"]).arg(&file).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).starts_with(&expected), "{}", String::from_utf8_lossy(&out.stderr));
}
