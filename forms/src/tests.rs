//! The templates as operators write them: read, checked, rendered with
//! hostile values.

use std::collections::BTreeMap;

use crate::{Action, Kind, SHIPPED, Scope, Template, check, render};

const SETTINGS: &str = r#"<form data-title="Мои настройки" data-scope="shared">
  <label>Цвет <input type="text" name="MyColor" value="<%= MyColor %>" maxlength="20"></label>
  <p>Сохранил <%= saved_by %>: <%= MyColor %></p>
  <select name="period"><option value="day">Сутки</option><option value="month" selected>Месяц</option></select>
  <label><input type="checkbox" name="sound" value="yes"> Звук</label>
  <input type="radio" name="size" value="s"><input type="radio" name="size" value="l">
  <textarea name="notes"><%= notes %></textarea>
  <input type="number" name="limit" min="0" max="10" step="0.5">
  <button type="submit">Сохранить</button>
</form>"#;

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

#[test]
fn a_template_declares_its_fields_scope_and_placeholders() {
    let t = Template::parse(SETTINGS).unwrap();
    assert_eq!((t.title.as_str(), t.scope, t.action), ("Мои настройки", Scope::Shared, Action::Save));
    let names: Vec<&str> = t.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(names, ["MyColor", "period", "sound", "size", "notes", "limit"]);
    assert_eq!(t.field("size").unwrap().kind, Kind::Choice { options: vec!["s".into(), "l".into()] });
    assert_eq!(t.field("sound").unwrap().kind, Kind::Check { value: "yes".into() });
    assert_eq!(t.placeholders.iter().map(String::as_str).collect::<Vec<_>>(), ["MyColor", "notes", "saved_by"]);
}

#[test]
fn what_the_ui_could_not_show_safely_is_refused_at_line_and_column() {
    let cases = [
        ("<form>\n  <script>alert(1)</script>\n</form>", "2:3: <script> is not allowed"),
        ("<form>\n<input name=\"a\" onfocus=\"x()\"></form>", "2:1: <input> attribute \"onfocus\": event handlers"),
        ("<form><input name=\"a\" style=\"color:red\"></form>", "1:7: <input> attribute \"style\""),
        ("<form><input name=a value=<%= a %>></form>", "placeholder in an attribute stands inside its quotes"),
        ("<form><input name=\"a\" class=\"<%= a %>\"></form>", "a placeholder stands only in text or in value"),
        ("<form>\n\n   Hi <%= who %></form>", "3:7: placeholder <%= who %> names no field"),
        ("<form>Hi <%= who </form>", "1:10: a placeholder <%= opens and no %> closes it"),
        ("<form><input name=\"a\"><input name=\"a\"></form>", "two fields are named \"a\""),
        ("<form><input type=\"file\" name=\"a\"></form>", "<input type=\"file\"> is not allowed"),
        ("<form><input type=\"number\" name=\"a\" min=\"x\"></form>", "min=\"x\" is not a number"),
        ("<form data-action=\"delete-all\"></form>", "data-action is save, manual-reading or inspection-note"),
        ("<div></div>", "one <form> element; this one has none"),
        ("<form></form><form></form>", "1:14: a form template holds one <form> element; this one has 2"),
        ("<form><a href=\"javascript:x\">x</a></form>", "<a> is not allowed"),
        ("<form><select name=\"s\"><option>x</option></select></form>", "needs a value attribute"),
        (
            "<form data-action=\"manual-reading\"><input name=\"meter\"></form>",
            "a manual-reading form needs <input name=\"meter\" data-kind=\"meter\">, <input name=\"channel\"",
        ),
        (
            "<form data-action=\"inspection-note\"><textarea name=\"t\"></textarea></form>",
            "one field naming its subject",
        ),
    ];
    for (html, expected) in cases {
        let errors = Template::parse(html).unwrap_err();
        assert!(errors.iter().any(|e| e.contains(expected)), "{html}\n  expected {expected:?}\n  got {errors:?}");
    }
}

#[test]
fn values_are_checked_against_the_declared_types() {
    let t = Template::parse(SETTINGS).unwrap();
    let kept = check(&t, &values(&[("MyColor", "#ffffff"), ("period", "day"), ("limit", "2.5")])).unwrap();
    assert_eq!(kept["MyColor"], "#ffffff");
    assert_eq!(kept["sound"], "", "every field is kept, empty when not given");
    let problems =
        check(&t, &values(&[("MyColor", &"x".repeat(21)), ("period", "year"), ("limit", "2.25"), ("evil", "1")]))
            .unwrap_err();
    let codes: Vec<(&str, &str)> = problems.iter().map(|p| (p.field.as_str(), p.problem.code)).collect();
    assert_eq!(
        codes,
        [("evil", "unknown-field"), ("MyColor", "too-long"), ("period", "not-an-option"), ("limit", "step")]
    );
}

#[test]
fn a_saved_value_is_rendered_as_text_never_as_markup() {
    let t = Template::parse(SETTINGS).unwrap();
    let hostile = r#""><script>alert(1)</script><img src=x onerror=alert(2)>&amp;'"#;
    let kept = check(
        &t,
        &values(&[("MyColor", &hostile[..20]), ("notes", hostile), ("period", "day"), ("sound", "yes"), ("size", "l")]),
    )
    .unwrap();
    let built_ins = BTreeMap::from([("saved_by", "<b>eve</b>".to_owned())]);
    let html = render(&t, &kept, &built_ins);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("<img"), "{html}");
    assert!(!html.contains("<b>eve"), "{html}");
    assert!(html.contains(r#"value="&quot;&gt;&lt;script&gt;alert(1)&lt;/""#), "the input's value: {html}");
    assert!(html.contains("Сохранил &lt;b&gt;eve&lt;/b&gt;: &quot;&gt;&lt;script&gt;"), "text: {html}");
    assert!(html.contains("&lt;img src=x onerror=alert(2)&gt;&amp;amp;'</textarea>"), "{html}");
    // The saved choices are the ones shown.
    assert!(html.contains(r#"<option value="day" selected="">"#), "{html}");
    assert!(html.contains(r#"<option value="month">"#), "the template's default gives way: {html}");
    assert!(html.contains(r#"name="sound" value="yes" checked="""#), "{html}");
    assert!(html.contains(r#"name="size" value="l" checked="""#), "{html}");
    assert!(!html.contains(r#"name="size" value="s" checked"#), "{html}");
}

#[test]
fn an_unsaved_form_renders_its_placeholders_empty_and_its_defaults() {
    let t = Template::parse(SETTINGS).unwrap();
    let html = render(&t, &BTreeMap::new(), &BTreeMap::new());
    assert!(html.contains(r#"name="MyColor" value="""#), "{html}");
    assert!(html.contains(r#"<option value="month" selected>"#), "{html}");
    assert!(!html.contains("<%="), "{html}");
}

#[test]
fn the_shipped_forms_read_and_each_language_has_the_same_fields() {
    for (file, html) in SHIPPED {
        let t = Template::parse(html).unwrap_or_else(|e| panic!("{file}: {e:?}"));
        let base = file.replace(".en.html", ".html");
        let (_, other) = SHIPPED.iter().find(|(f, _)| *f == base).unwrap();
        assert_eq!(t.fields, Template::parse(other).unwrap().fields, "{file} and {base}");
    }
    let manual = Template::parse(SHIPPED[0].1).unwrap();
    assert_eq!(manual.action, Action::ManualReading);
}
