//! The forms: the ones the product ships (`meterhub-forms`' `SHIPPED`)
//! and the operator's `*.html` files in `host.forms_dir`, read as they
//! change (`crate::folder`). A form's id is its file name without
//! `.html`; `<id>.en.html` is its English version (`<id>.html` the
//! default, in Russian for the shipped ones). A form with a file in the
//! folder is the folder's alone: its files take the shipped ones' place.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meterhub_forms::{Action, SHIPPED, Scope, Template};
use serde::Serialize;

use crate::folder::{Folder, stem};

/// Where a form comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// Shipped with the product.
    Shipped,
    /// The forms folder.
    Folder,
}

/// One form: its versions by language (`""` the default).
#[derive(Debug, Clone)]
pub struct Form {
    /// Its id.
    pub id: String,
    /// Shipped or the folder's.
    pub origin: Origin,
    /// The files it was read from (or the shipped names).
    pub files: Vec<String>,
    /// Its versions by language, each checked to have the default's fields.
    versions: BTreeMap<String, Arc<Template>>,
    /// What is wrong with its files as they are now.
    pub errors: Vec<String>,
}

impl Form {
    /// The version for `lang`, else the default, else any.
    pub fn template(&self, lang: &str) -> Option<&Arc<Template>> {
        self.versions.get(lang).or_else(|| self.versions.get("")).or_else(|| self.versions.values().next())
    }
}

/// What `/api/v1/forms` shows of one form.
#[derive(Debug, Clone, Serialize)]
pub struct FormStatus {
    /// Its id.
    pub id: String,
    /// Its title in the language asked.
    pub title: String,
    /// Whose values it keeps.
    pub scope: Scope,
    /// What submitting it does.
    pub action: Action,
    /// `shipped` or `folder`.
    pub origin: &'static str,
    /// Its files.
    pub files: Vec<String>,
    /// Whether its files read without error.
    pub ok: bool,
    /// What is wrong with them; the last good versions are served meanwhile.
    pub errors: Vec<String>,
}

/// A file name's form id and language: `<id>.html` -> (`id`, ``),
/// `<id>.<xx>.html` -> (`id`, `xx`); `None` for any other name.
pub fn split_name(stem: &str) -> Option<(&str, &str)> {
    let (id, lang) = match stem.rsplit_once('.') {
        Some((id, lang)) if lang.len() == 2 && lang.bytes().all(|b| b.is_ascii_lowercase()) => (id, lang),
        Some(_) => return None,
        None => (stem, ""),
    };
    let id_ok = !id.is_empty() && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    id_ok.then_some((id, lang))
}

/// The forms, shipped and the folder's. `Send + Sync`.
#[derive(Debug)]
pub struct Catalog {
    folder: Folder<Template>,
    shipped: BTreeMap<String, Form>,
}

impl Default for Catalog {
    fn default() -> Self {
        let mut read = Vec::new();
        for (file, html) in SHIPPED {
            let stem = file.trim_end_matches(".html");
            // Tested in meterhub-forms; a broken one would be left out, said in the log.
            match Template::parse(html) {
                Ok(template) => read.push(FileRead {
                    stem: stem.to_owned(),
                    file: (*file).to_owned(),
                    good: Some(Arc::new(template)),
                    errors: Vec::new(),
                }),
                Err(errors) => tracing::error!(file, ?errors, "a shipped form does not read"),
            }
        }
        let shipped = assemble(read, Origin::Shipped);
        Catalog { folder: Folder::new("form", "html"), shipped }
    }
}

/// One template file as read.
struct FileRead {
    /// Its name without `.html`.
    stem: String,
    /// Its path (or the shipped name).
    file: String,
    /// Its last good template.
    good: Option<Arc<Template>>,
    /// What is wrong with it now.
    errors: Vec<String>,
}

/// Forms from their files.
fn assemble(files: Vec<FileRead>, origin: Origin) -> BTreeMap<String, Form> {
    let mut forms: BTreeMap<String, Form> = BTreeMap::new();
    let mut read: Vec<(String, String, FileRead)> = Vec::new();
    for f in files {
        match split_name(&f.stem) {
            Some((id, lang)) => read.push((id.to_owned(), lang.to_owned(), f)),
            None => tracing::warn!(file = f.file, "not a form's file name (<id>.html or <id>.<language>.html)"),
        }
    }
    // Defaults first, so each version is held against its default.
    read.sort_by(|a, b| (&a.0, !a.1.is_empty(), &a.1).cmp(&(&b.0, !b.1.is_empty(), &b.1)));
    for (id, lang, FileRead { file, good, errors, .. }) in read {
        let form = forms.entry(id.clone()).or_insert_with(|| Form {
            id,
            origin: origin.clone(),
            files: Vec::new(),
            versions: BTreeMap::new(),
            errors: Vec::new(),
        });
        form.files.push(file.clone());
        form.errors.extend(errors);
        let Some(template) = good else { continue };
        match form.versions.get("") {
            Some(default) if !lang.is_empty() && default.fields != template.fields => form.errors.push(format!(
                "{file}: its fields differ from the default version's ({}); the default is served in its place",
                form.files[0]
            )),
            _ => {
                form.versions.insert(lang, template);
            }
        }
    }
    forms
}

impl Catalog {
    /// Every form: the folder's `dir`, and the shipped ones it does not replace.
    pub fn forms(&self, dir: &Path) -> BTreeMap<String, Form> {
        self.read(dir, None)
    }

    /// Form `id` (only its own files in `dir` are looked at).
    pub fn form(&self, dir: &Path, id: &str) -> Option<Form> {
        self.read(dir, Some(id)).remove(id)
    }

    fn read(&self, dir: &Path, only: Option<&str>) -> BTreeMap<String, Form> {
        let pick = |p: &Path| only.is_none_or(|id| split_name(&stem(p)).is_some_and(|(i, _)| i == id));
        let entries = self.folder.refresh(dir, Some(&pick), |file: &Path| {
            let html =
                std::fs::read_to_string(file).map_err(|e| vec![format!("{}: cannot read: {e}", file.display())])?;
            Template::parse(&html).map_err(|errors| errors.iter().map(|e| format!("{}:{e}", file.display())).collect())
        });
        let files = entries
            .into_iter()
            .map(|(path, entry): (PathBuf, _)| FileRead {
                stem: stem(&path),
                file: path.display().to_string(),
                good: entry.good,
                errors: entry.errors,
            })
            .collect();
        let mut forms = assemble(files, Origin::Folder);
        for (id, form) in &self.shipped {
            if only.is_none_or(|o| o == id) && !forms.contains_key(id) {
                forms.insert(id.clone(), form.clone());
            }
        }
        forms
    }
}

impl Form {
    /// What the list shows of it, titled in `lang`.
    pub fn status(&self, lang: &str) -> Option<FormStatus> {
        let template = self.template(lang)?;
        Some(FormStatus {
            id: self.id.clone(),
            title: template.title.clone(),
            scope: template.scope,
            action: template.action,
            origin: match self.origin {
                Origin::Shipped => "shipped",
                Origin::Folder => "folder",
            },
            files: self.files.clone(),
            ok: self.errors.is_empty(),
            errors: self.errors.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_give_the_form_and_its_language() {
        assert_eq!(split_name("manual-reading"), Some(("manual-reading", "")));
        assert_eq!(split_name("manual-reading.en"), Some(("manual-reading", "en")));
        assert_eq!(split_name("notes.v2.en"), None);
        assert_eq!(split_name("my form"), None);
    }

    #[test]
    fn the_folder_replaces_a_shipped_form_whole_and_a_version_with_other_fields_gives_way() {
        let dir = tempfile::tempdir().unwrap();
        let catalog = Catalog::default();
        let shipped = catalog.forms(dir.path());
        assert!(["inspection-note", "manual-reading", "report-parameters"].iter().all(|id| shipped.contains_key(*id)));
        let form = &shipped["manual-reading"];
        assert_eq!(
            (form.template("ru").unwrap().title.as_str(), form.template("en").unwrap().title.as_str()),
            ("Ручной ввод показаний", "Manual meter reading")
        );

        std::fs::write(
            dir.path().join("report-parameters.html"),
            "<form data-title=\"Мои параметры\"><input name=\"a\"></form>",
        )
        .unwrap();
        std::fs::write(
            dir.path().join("report-parameters.en.html"),
            "<form data-title=\"Mine\"><input name=\"b\"></form>",
        )
        .unwrap();
        let form = catalog.form(dir.path(), "report-parameters").unwrap();
        assert_eq!(form.origin, Origin::Folder);
        assert_eq!(form.template("en").unwrap().title, "Мои параметры", "the English version has other fields");
        assert!(form.errors[0].contains("report-parameters.en.html: its fields differ"), "{:?}", form.errors);

        // A broken edit keeps the last good version served.
        std::fs::write(dir.path().join("report-parameters.html"), "<form><script>x</script><input name=\"a\"></form>")
            .unwrap();
        let form = catalog.form(dir.path(), "report-parameters").unwrap();
        assert_eq!(form.template("ru").unwrap().title, "Мои параметры");
        assert!(
            form.errors.iter().any(|e| e.contains("report-parameters.html:1:7: <script> is not allowed")),
            "{:?}",
            form.errors
        );
    }
}
