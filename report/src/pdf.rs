//! PDF with krilla (the typst authors' PDF writer: fonts embedded as
//! subsets with their Unicode maps, so the text can be searched and copied
//! out): A4 landscape, the title and parameters on the first page, the
//! column labels again on every page, sums shaded and in bold, the notes
//! wrapped under the table, "page N of M" at the foot. The font is DejaVu
//! Sans Condensed cut to Latin and Cyrillic (`fonts/`), built into the
//! binary so a report looks the same on every host.

use krilla::Document;
use krilla::color::rgb;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::MetadataProvider;
use skrifa::instance::{LocationRef, Size};

use crate::lang::Lang;
use crate::table::{Align, Cell, Report, RowKind};

const REGULAR: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-ru.ttf");
const BOLD: &[u8] = include_bytes!("../fonts/DejaVuSansCondensed-Bold-ru.ttf");

const PAGE: (f32, f32) = (842.0, 595.0);
const MARGIN: f32 = 28.0;
const FONT_SIZE: f32 = 7.0;
const ROW: f32 = 11.0;
const PAD: f32 = 2.5;

/// A font for drawing and measuring.
struct Face {
    font: Font,
    /// The same font's tables, read once, to measure text.
    tables: skrifa::FontRef<'static>,
}

impl Face {
    fn new(bytes: &'static [u8]) -> Option<Face> {
        Some(Face { font: Font::new(bytes.into(), 0)?, tables: skrifa::FontRef::new(bytes).ok()? })
    }

    fn width(&self, text: &str, size: f32) -> f32 {
        let font = &self.tables;
        let (charmap, metrics) = (font.charmap(), font.glyph_metrics(Size::new(size), LocationRef::default()));
        text.chars().map(|c| metrics.advance_width(charmap.map(c).unwrap_or_default()).unwrap_or(0.0)).sum()
    }

    /// `text` cut to `width` with an ellipsis.
    fn fit(&self, text: &str, size: f32, width: f32) -> String {
        if self.width(text, size) <= width {
            return text.to_owned();
        }
        let mut out: String = text.to_owned();
        while !out.is_empty() && self.width(&format!("{out}…"), size) > width {
            out.pop();
        }
        format!("{out}…")
    }

    /// `text` broken into lines no wider than `width`, at spaces.
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        let mut line = String::new();
        for word in text.split(' ') {
            let candidate = if line.is_empty() { word.to_owned() } else { format!("{line} {word}") };
            if self.width(&candidate, size) > width && !line.is_empty() {
                lines.push(std::mem::take(&mut line));
                line = word.to_owned();
            } else {
                line = candidate;
            }
        }
        if !line.is_empty() {
            lines.push(line);
        }
        lines
    }
}

fn fill(r: u8, g: u8, b: u8) -> Fill {
    Fill { paint: rgb::Color::new(r, g, b).into(), opacity: NormalizedF32::ONE, rule: Default::default() }
}

fn rect(surface: &mut Surface, x: f32, y: f32, w: f32, h: f32, color: Fill) {
    let mut path = PathBuilder::new();
    if let Some(r) = Rect::from_xywh(x, y, w, h) {
        path.push_rect(r);
    }
    if let Some(path) = path.finish() {
        surface.set_stroke(None);
        surface.set_fill(Some(color));
        surface.draw_path(&path);
    }
}

fn line(surface: &mut Surface, x1: f32, y: f32, x2: f32) {
    let mut path = PathBuilder::new();
    path.move_to(x1, y);
    path.line_to(x2, y);
    if let Some(path) = path.finish() {
        surface.set_fill(None);
        surface.set_stroke(Some(Stroke {
            paint: rgb::Color::new(190, 196, 204).into(),
            width: 0.4,
            ..Default::default()
        }));
        surface.draw_path(&path);
    }
}

fn text(surface: &mut Surface, face: &Face, x: f32, y: f32, size: f32, content: &str) {
    surface.set_stroke(None);
    surface.set_fill(Some(fill(20, 24, 31)));
    surface.draw_text(Point::from_xy(x, y), face.font.clone(), size, content, false, TextDirection::Auto);
}

/// A cell as the page shows it, in the report's language.
pub fn cell_text(cell: &Cell, report: &Report) -> String {
    match cell {
        Cell::Empty => String::new(),
        Cell::Text(t) => t.clone(),
        Cell::Number(n) => report.lang.decimal(*n),
        Cell::Count(n) => report.lang.count(*n),
        Cell::Time(ms) => report.lang.time(*ms, &report.zone),
    }
}

/// Why a PDF could not be made.
#[derive(Debug)]
pub struct PdfError(pub String);

impl std::fmt::Display for PdfError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PDF: {}", self.0)
    }
}

impl std::error::Error for PdfError {}

/// The report as a PDF document.
pub fn render(report: &Report) -> Result<Vec<u8>, PdfError> {
    let regular = Face::new(REGULAR).ok_or_else(|| PdfError("the built-in regular font is not readable".into()))?;
    let bold = Face::new(BOLD).ok_or_else(|| PdfError("the built-in bold font is not readable".into()))?;
    let lang = report.lang;
    let inner = PAGE.0 - 2.0 * MARGIN;
    let total_width: f32 = report.columns.iter().map(|c| c.width).sum::<f32>().max(f32::EPSILON);
    let widths: Vec<f32> = report.columns.iter().map(|c| c.width / total_width * inner).collect();
    // The header's labels may take three lines.
    let labels: Vec<Vec<String>> = report
        .columns
        .iter()
        .zip(&widths)
        .map(|(c, w)| {
            let mut lines = bold.wrap(&c.label, FONT_SIZE, w - 2.0 * PAD);
            lines.truncate(3);
            lines
        })
        .collect();
    let header_height = ROW * labels.iter().map(Vec::len).max().unwrap_or(1).max(1) as f32;
    // The first page carries the title and parameters.
    let intro = 24.0 + report.parameters.len() as f32 * 11.0 + 8.0;
    let footer = 18.0;
    let body = |first: bool| PAGE.1 - 2.0 * MARGIN - footer - header_height - if first { intro } else { 0.0 };
    let first_rows = (body(true) / ROW).floor().max(1.0) as usize;
    let later_rows = (body(false) / ROW).floor().max(1.0) as usize;
    let mut pages: Vec<std::ops::Range<usize>> = Vec::new();
    let mut at = 0;
    while at < report.rows.len() || pages.is_empty() {
        let take = if pages.is_empty() { first_rows } else { later_rows };
        let end = (at + take).min(report.rows.len());
        pages.push(at..end);
        at = end;
    }
    let notes: Vec<String> = report.notes.iter().flat_map(|n| regular.wrap(n, FONT_SIZE, inner)).collect();
    let last_free = {
        let used = pages.last().map_or(0, |p| p.len()) as f32 * ROW;
        body(pages.len() == 1) - used - 8.0
    };
    let notes_own_page = notes.len() as f32 * 10.0 > last_free;
    let count = pages.len() + usize::from(notes_own_page && !notes.is_empty());

    let mut document = Document::new();
    document.set_metadata(krilla::metadata::Metadata::new().title(report.title.clone()).language(lang.code().into()));
    for (index, rows) in pages.iter().enumerate() {
        let mut page = document
            .start_page_with(PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| PdfError("page size".into()))?);
        let mut surface = page.surface();
        let mut y = MARGIN;
        if index == 0 {
            text(&mut surface, &bold, MARGIN, y + 14.0, 14.0, &report.title);
            y += 24.0;
            for (label, value) in &report.parameters {
                text(&mut surface, &bold, MARGIN, y + 8.0, 8.0, &format!("{label}:"));
                let offset = bold.width(&format!("{label}: "), 8.0);
                text(&mut surface, &regular, MARGIN + offset, y + 8.0, 8.0, &regular.fit(value, 8.0, inner - offset));
                y += 11.0;
            }
            y += 8.0;
        }
        rect(&mut surface, MARGIN, y, inner, header_height, fill(230, 233, 238));
        let mut x = MARGIN;
        for ((column, lines), w) in report.columns.iter().zip(&labels).zip(&widths) {
            for (i, label) in lines.iter().enumerate() {
                let lx = match column.align {
                    Align::Left => x + PAD,
                    Align::Right => x + w - PAD - bold.width(label, FONT_SIZE),
                };
                text(&mut surface, &bold, lx, y + ROW * i as f32 + 8.0, FONT_SIZE, label);
            }
            x += w;
        }
        y += header_height;
        for row in &report.rows[rows.clone()] {
            let face = match row.kind {
                RowKind::Item => &regular,
                RowKind::Subtotal => {
                    rect(&mut surface, MARGIN, y, inner, ROW, fill(243, 245, 248));
                    &bold
                }
                RowKind::Total => {
                    rect(&mut surface, MARGIN, y, inner, ROW, fill(225, 231, 240));
                    &bold
                }
            };
            let mut x = MARGIN;
            for ((cell, column), w) in row.cells.iter().zip(&report.columns).zip(&widths) {
                let shown = face.fit(&cell_text(cell, report), FONT_SIZE, w - 2.0 * PAD);
                let cx = match column.align {
                    Align::Left => x + PAD,
                    Align::Right => x + w - PAD - face.width(&shown, FONT_SIZE),
                };
                if !shown.is_empty() {
                    text(&mut surface, face, cx, y + 8.0, FONT_SIZE, &shown);
                }
                x += w;
            }
            y += ROW;
            line(&mut surface, MARGIN, y, MARGIN + inner);
        }
        if index + 1 == pages.len() && !notes_own_page {
            y += 8.0;
            for note in &notes {
                text(&mut surface, &regular, MARGIN, y + 8.0, FONT_SIZE, note);
                y += 10.0;
            }
        }
        footer_text(&mut surface, &regular, lang, index + 1, count);
        surface.finish();
        page.finish();
    }
    if notes_own_page && !notes.is_empty() {
        let mut page = document
            .start_page_with(PageSettings::from_wh(PAGE.0, PAGE.1).ok_or_else(|| PdfError("page size".into()))?);
        let mut surface = page.surface();
        let mut y = MARGIN;
        for note in &notes {
            text(&mut surface, &regular, MARGIN, y + 8.0, FONT_SIZE, note);
            y += 10.0;
        }
        footer_text(&mut surface, &regular, lang, count, count);
        surface.finish();
        page.finish();
    }
    document.finish().map_err(|e| PdfError(format!("{e:?}")))
}

fn footer_text(surface: &mut Surface, face: &Face, lang: Lang, page: usize, count: usize) {
    let label = match lang {
        Lang::Ru => format!("Страница {page} из {count}"),
        Lang::En => format!("Page {page} of {count}"),
    };
    let x = PAGE.0 - MARGIN - face.width(&label, FONT_SIZE);
    text(surface, face, x, PAGE.1 - MARGIN + 4.0, FONT_SIZE, &label);
}
