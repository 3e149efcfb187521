//! [`FILES`]: every file of `ui/` embedded at compile time (`host/build.rs`
//! writes the table), and [`find`], which maps a request path to one.

/// One embedded file of the UI.
#[derive(Debug)]
pub struct UiFile {
    /// Its path under `ui/`, with `/` separators (`js/app.js`).
    pub path: &'static str,
    /// Its `Content-Type`.
    pub content_type: &'static str,
    /// Its bytes.
    pub body: &'static [u8],
}

/// Every embedded file, sorted by path.
pub static FILES: &[UiFile] = include!(concat!(env!("OUT_DIR"), "/ui_files.rs"));

/// The page every UI address opens.
pub const INDEX: &str = "index.html";

/// Where `scripts/build-ui` puts uPlot; not there when it has not run.
pub const VENDOR_DIR: &str = "vendor/";

/// The file a request path names: `/`, `/ui` and `/ui/` are the index page,
/// `/ui/<path>` the file at `<path>`; `None` for anything else.
pub fn find(request_path: &str) -> Option<&'static UiFile> {
    let path = match request_path {
        "/" | "/ui" | "/ui/" => INDEX,
        other => other.strip_prefix("/ui/")?,
    };
    FILES.binary_search_by(|f| f.path.cmp(path)).ok().map(|i| &FILES[i])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(path: &str) -> &'static str {
        std::str::from_utf8(find(&format!("/ui/{path}")).unwrap_or_else(|| panic!("{path} is embedded")).body)
            .unwrap_or_else(|e| panic!("{path} is UTF-8: {e}"))
    }

    /// The quoted string after each `marker` in `text`.
    fn quoted_after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
        text.match_indices(marker)
            .filter_map(|(at, _)| {
                let rest = &text[at + marker.len()..];
                let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
                rest[1..].split(quote).next()
            })
            .collect()
    }

    fn is_script(f: &&UiFile) -> bool {
        f.path.ends_with(".js") && !f.path.starts_with(VENDOR_DIR)
    }

    #[test]
    fn the_index_page_answers_at_the_root_and_under_ui() {
        for path in ["/", "/ui", "/ui/", "/ui/index.html"] {
            let file = find(path).unwrap_or_else(|| panic!("{path}"));
            assert_eq!((file.path, file.content_type), (INDEX, "text/html; charset=utf-8"), "{path}");
        }
        assert!(find("/ui/../Cargo.toml").is_none());
        assert!(find("/ui/no-such-file.js").is_none());
        assert!(find("/index.html").is_none(), "files live under /ui/");
        assert!(find("/ui/package.json").is_none(), "npm's files are not served");
        assert!(FILES.windows(2).all(|w| w[0].path < w[1].path), "sorted for the lookup");
    }

    #[test]
    fn every_file_the_page_loads_is_embedded_with_its_content_type() {
        let index = text(INDEX);
        // Files, not the views' `#/…` links.
        let referenced: Vec<&str> = quoted_after(index, "src=")
            .into_iter()
            .chain(quoted_after(index, "href="))
            .filter(|r| r.starts_with("/ui/"))
            .collect();
        assert!(referenced.iter().any(|r| r.ends_with(".js")) && referenced.iter().any(|r| r.ends_with(".css")));
        for reference in referenced {
            let file = find(reference).unwrap_or_else(|| panic!("index.html loads {reference}, not embedded"));
            let expected = match reference.rsplit_once('.').map(|(_, ext)| ext) {
                Some("js") => "text/javascript",
                Some("css") => "text/css",
                Some("svg") => "image/svg+xml",
                other => panic!("index.html loads {reference}, an unexpected kind {other:?}"),
            };
            assert!(file.content_type.starts_with(expected), "{reference}: {}", file.content_type);
        }
        // Every module import resolves to an embedded module.
        for script in FILES.iter().filter(is_script) {
            let dir = script.path.rsplit_once('/').map_or("", |(d, _)| d);
            for import in quoted_after(text(script.path), "from ") {
                let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
                for part in import.split('/') {
                    match part {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        p => parts.push(p),
                    }
                }
                let target = parts.join("/");
                assert!(find(&format!("/ui/{target}")).is_some(), "{} imports {import}: no {target}", script.path);
            }
        }
    }

    #[test]
    fn the_page_has_no_inline_script_or_style_so_the_csp_holds() {
        for file in FILES.iter().filter(|f| f.path.ends_with(".html")) {
            let html = text(file.path);
            assert!(!html.contains("<style"), "{}: a <style> element", file.path);
            assert!(!html.contains(" style="), "{}: a style attribute", file.path);
            let handler = html.match_indices(" on").find(|(at, _)| {
                let name: String = html[at + 3..].chars().take_while(char::is_ascii_lowercase).collect();
                !name.is_empty() && html[at + 3 + name.len()..].starts_with('=')
            });
            assert!(handler.is_none(), "{}: an inline event handler", file.path);
            for (at, _) in html.match_indices("<script") {
                let tag = &html[at..at + html[at..].find('>').expect("a closed tag")];
                assert!(tag.contains(" src="), "{}: an inline script {tag}", file.path);
            }
        }
        for script in FILES.iter().filter(is_script) {
            let js = text(script.path);
            for unsafe_sink in ["innerHTML", "eval(", "new Function", "setAttribute('style'"] {
                assert!(!js.contains(unsafe_sink), "{} uses {unsafe_sink}", script.path);
            }
        }
    }
}
