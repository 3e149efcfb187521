//! `meterhub diagram import`: a plain SVG drawing, as Inkscape or any SVG
//! editor writes it, converted into the diagram language, so an operator
//! draws in an editor and binds data afterwards. Pure: SVG text in, diagram
//! XML out, and a warning for everything not converted (or converted only
//! approximately), each at the SVG element's `line:col`.
//!
//! roxmltree reads the SVG tree; svgtypes reads its values (path data, with
//! arcs and smooth curves already turned into cubics; transforms; colours
//! and paints; lengths; points; the viewBox); kurbo flattens the curves
//! into points. What converts to what is in `docs/diagrams.md` ("Drawing
//! in an SVG editor").

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt::{self, Write as _};
use std::str::FromStr;

use kurbo::{Affine, PathEl, Point, Rect};
use roxmltree::{Document, Node};

const SVG_NS: &str = "http://www.w3.org/2000/svg";
const XLINK_NS: &str = "http://www.w3.org/1999/xlink";
const INKSCAPE_NS: &str = "http://www.inkscape.org/namespaces/inkscape";
const SODIPODI_NS: &str = "http://sodipodi.sourceforge.net/DTD/sodipodi-0.dtd";

/// Curves are flattened to within this fraction of the drawing's larger
/// side (0.2 units of a drawing 1000 wide). Arcs are first turned into
/// cubics by svgtypes to within 0.1 units and at least four per turn, which
/// is finer than this in any drawing wider than 500 units and, in smaller
/// ones, for any radius below about three quarters of the drawing.
pub const FLATTEN_FRACTION: f64 = 1.0 / 5000.0;

/// Decimals of the numbers written when the drawing declares no size.
const DEFAULT_DECIMALS: usize = 6;

/// Most elements within elements followed (the conversion recurses).
const MAX_NESTING: usize = 256;

/// Decimals of transforms and the Range.
const EXACT_DECIMALS: usize = 10;

/// The diagram made of an SVG drawing.
#[derive(Debug, Clone, PartialEq)]
pub struct Imported {
    /// The diagram, in the language of `docs/diagrams.md`.
    pub xml: String,
    /// What was not converted, or only approximately, in document order.
    pub warnings: Vec<ImportWarning>,
}

/// Something of the SVG drawing not converted, or converted approximately.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportWarning {
    /// 1-based line of the SVG element.
    pub line: u32,
    /// 1-based column (characters) of the SVG element.
    pub col: u32,
    /// The SVG element: `<rect id="rect12">`.
    pub element: String,
    /// What became of it.
    pub message: String,
}

impl fmt::Display for ImportWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}: {}", self.line, self.col, self.element, self.message)
    }
}

/// Why an SVG drawing could not be imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    /// The file is not well-formed XML.
    #[error("{line}:{col}: not well-formed XML: {message}")]
    Xml {
        /// 1-based line.
        line: u32,
        /// 1-based column (characters).
        col: u32,
        /// What is wrong.
        message: String,
    },
    /// The root element is not an SVG `<svg>`.
    #[error("{line}:{col}: the root element is <{found}>, not an SVG <svg>")]
    NotSvg {
        /// 1-based line.
        line: u32,
        /// 1-based column (characters).
        col: u32,
        /// The root element's name.
        found: String,
    },
}

/// Converts the SVG drawing `svg` into a diagram named `name`.
pub fn import(svg: &str, name: &str) -> Result<Imported, ImportError> {
    let options = roxmltree::ParsingOptions { allow_dtd: true, ..roxmltree::ParsingOptions::default() };
    let doc = Document::parse_with_options(svg, options).map_err(|e| xml_error(&e))?;
    let root = doc.root_element();
    if svg_name(root) != Some("svg") {
        let at = doc.text_pos_at(root.range().start);
        return Err(ImportError::NotSvg { line: at.row, col: at.col, found: root.tag_name().name().to_owned() });
    }
    let mut importer = Importer::new(&doc);
    let declared = importer.declared_range(root);
    importer.size = declared.map(|[x1, y1, x2, y2]| (x2 - x1, y2 - y1));
    let style = importer.style(root, &Style::INITIAL);
    importer.children(root, &style, Affine::IDENTITY);
    Ok(importer.finish(name, declared))
}

fn xml_error(e: &roxmltree::Error) -> ImportError {
    let at = e.pos();
    let message = e.to_string();
    let message = message.strip_suffix(&format!(" at {at}")).unwrap_or(&message).to_owned();
    ImportError::Xml { line: at.row, col: at.col, message }
}

/// The local name of an SVG element (the SVG namespace, or none in a file
/// that forgot it); `None` for text and for other namespaces' elements
/// (an editor's own state, such as Inkscape's `sodipodi:namedview`).
fn svg_name<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    let ns = node.tag_name().namespace();
    (node.is_element() && (ns.is_none() || ns == Some(SVG_NS))).then(|| node.tag_name().name())
}

/// `<rect id="rect12">`, to name an element in a warning.
fn describe(node: Node<'_, '_>) -> String {
    match node.attribute("id") {
        Some(id) => format!("<{} id={id:?}>", node.tag_name().name()),
        None => format!("<{}>", node.tag_name().name()),
    }
}

/// An element's presentation properties: its attributes, overridden by the
/// declarations of its `style` attribute (`fill:#ff0000;stroke:none`).
struct Properties<'a> {
    node: Node<'a, 'a>,
    declarations: Vec<(&'a str, &'a str)>,
}

impl<'a> Properties<'a> {
    fn of(node: Node<'a, 'a>) -> Properties<'a> {
        let declarations = node
            .attribute("style")
            .unwrap_or_default()
            .split(';')
            .filter_map(|d| d.split_once(':'))
            .map(|(k, v)| (k.trim(), v.trim().trim_end_matches("!important").trim_end()))
            .collect();
        Properties { node, declarations }
    }

    /// The value of `name`: the style's last declaration of it, or the attribute.
    fn get(&self, name: &str) -> Option<&'a str> {
        self.declarations.iter().rev().find(|(k, _)| *k == name).map(|(_, v)| *v).or_else(|| self.node.attribute(name))
    }
}

/// A paint resolved to what the language can say.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Paint {
    None,
    Color([u8; 3]),
}

/// The inherited presentation properties the conversion uses.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Style {
    fill: Paint,
    stroke: Paint,
    stroke_width: f64,
    font_size: f64,
    /// `color`, for `currentColor`.
    color: [u8; 3],
    /// `visibility` is `visible`.
    visible: bool,
}

impl Style {
    /// SVG's initial values: black fill, no stroke, width 1, 16px text.
    const INITIAL: Style = Style {
        fill: Paint::Color([0, 0, 0]),
        stroke: Paint::None,
        stroke_width: 1.0,
        font_size: 16.0,
        color: [0, 0, 0],
        visible: true,
    };
}

/// Which axis a percentage length refers to.
#[derive(Debug, Clone, Copy)]
enum Axis {
    X,
    Y,
    /// The normalized diagonal (radii, stroke widths).
    Diagonal,
}

/// How a primitive is painted.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Ink {
    /// Outline and inside: rectangles, ellipses, polylines, polygons.
    Shape,
    /// An outline only.
    Line,
    /// Text: painted by its fill.
    Text,
    /// No paint.
    Image,
}

/// What a primitive draws, in its element's coordinates.
#[derive(Debug, Clone)]
enum Geometry {
    /// `position="x1,y1,x2,y2"`.
    Box([f64; 4]),
    /// `points="x,y …"`.
    Points(Vec<Point>),
    /// `position="x,y"`, `size`, the text as content.
    Text { at: Point, size: f64, text: String },
}

/// One primitive of the language, made of (part of) an SVG element.
#[derive(Debug, Clone)]
struct Prim {
    tag: &'static str,
    geometry: Geometry,
    href: Option<String>,
}

impl Prim {
    fn new(tag: &'static str, geometry: Geometry) -> Prim {
        Prim { tag, geometry, href: None }
    }

    fn points(&self) -> Vec<Point> {
        match &self.geometry {
            Geometry::Box([x1, y1, x2, y2]) => {
                vec![Point::new(*x1, *y1), Point::new(*x2, *y1), Point::new(*x2, *y2), Point::new(*x1, *y2)]
            }
            Geometry::Points(p) => p.clone(),
            Geometry::Text { at, .. } => vec![*at],
        }
    }
}

/// The conversion under way: the document, the diagram written so far, the
/// warnings, the ids given.
struct Importer<'a> {
    doc: &'a Document<'a>,
    /// Byte offsets where lines start, the first line's (0) included.
    line_starts: Vec<usize>,
    /// Elements by `id`, for the gradients paints name.
    by_id: HashMap<&'a str, Node<'a, 'a>>,
    body: String,
    /// Indentation of the next line written.
    depth: usize,
    /// Elements being converted within one another.
    nesting: usize,
    warnings: Vec<ImportWarning>,
    ids: HashSet<String>,
    /// The drawing's width and height, when the SVG declares them.
    size: Option<(f64, f64)>,
    /// The extent of what was drawn, in the drawing's coordinates.
    extent: Option<Rect>,
}

impl<'a> Importer<'a> {
    fn new(doc: &'a Document<'a>) -> Importer<'a> {
        let by_id = doc.descendants().filter_map(|n| Some((n.attribute("id")?, n))).collect();
        let newlines = doc.input_text().match_indices('\n').map(|(i, _)| i + 1);
        Importer {
            doc,
            line_starts: std::iter::once(0).chain(newlines).collect(),
            by_id,
            body: String::new(),
            depth: 1,
            nesting: 0,
            warnings: Vec::new(),
            ids: HashSet::new(),
            size: None,
            extent: None,
        }
    }

    fn warn(&mut self, node: Node<'_, '_>, message: impl Into<String>) {
        let (line, col) = self.line_col(node.range().start);
        self.warnings.push(ImportWarning { line, col, element: describe(node), message: message.into() });
    }

    /// The 1-based line and column (characters) of byte `offset`, by a
    /// binary search of the line starts (roxmltree's `text_pos_at` reads
    /// the text from its start each time).
    fn line_col(&self, offset: usize) -> (u32, u32) {
        let text = self.doc.input_text();
        let line = self.line_starts.partition_point(|start| *start <= offset);
        let start = self.line_starts[line.saturating_sub(1)];
        let col = text.get(start..offset).map_or(0, |s| s.chars().count());
        (line as u32, col as u32 + 1)
    }

    // --- The drawing's extent.

    /// `x1,y1,x2,y2` from the viewBox, else from width and height.
    fn declared_range(&mut self, root: Node<'a, 'a>) -> Option<[f64; 4]> {
        if let Some(text) = root.attribute("viewBox") {
            match svgtypes::ViewBox::from_str(text) {
                Ok(b) if [b.x, b.y, b.x + b.w, b.y + b.h].iter().all(|v| v.is_finite()) => {
                    return Some([b.x, b.y, b.x + b.w, b.y + b.h]);
                }
                Ok(_) => self.warn(root, format!("viewBox {text:?}: beyond the numbers a diagram holds")),
                Err(e) => self.warn(root, format!("viewBox {text:?}: {e}")),
            }
        }
        let absolute = |name: &str| {
            let length = svgtypes::Length::from_str(root.attribute(name)?.trim()).ok()?;
            let relative = matches!(length.unit, svgtypes::LengthUnit::Percent | svgtypes::LengthUnit::Em);
            (!relative && length.unit != svgtypes::LengthUnit::Ex).then(|| user_units(length, 0.0, 16.0))
        };
        match (absolute("width"), absolute("height")) {
            (Some(w), Some(h)) if w > 0.0 && h > 0.0 => Some([0.0, 0.0, w, h]),
            _ => {
                self.warn(root, "no viewBox, nor an absolute width and height: the Range is the extent of the drawing");
                None
            }
        }
    }

    /// The reference of a percentage along `axis`.
    fn percent_of(&self, axis: Axis) -> f64 {
        let (w, h) = self.size.unwrap_or((0.0, 0.0));
        match axis {
            Axis::X => w,
            Axis::Y => h,
            Axis::Diagonal => ((w * w + h * h) / 2.0).sqrt(),
        }
    }

    /// The tolerance of flattening in coordinates drawn through `ctm`: the
    /// drawing's share, divided by how much `ctm` enlarges.
    fn tolerance(&self, ctm: Affine) -> Option<f64> {
        let (w, h) = self.size?;
        let scale = largest_scale(ctm);
        let tolerance = w.max(h) * FLATTEN_FRACTION;
        Some(if scale > 0.0 { tolerance / scale } else { tolerance })
    }

    fn extend(&mut self, ctm: Affine, points: &[Point]) {
        for p in points {
            let p = ctm * *p;
            self.extent = Some(self.extent.map_or_else(|| Rect::from_points(p, p), |r| r.union_pt(p)));
        }
    }

    // --- Values.

    /// A length attribute of `node` in user units; `None` when absent or
    /// unreadable (warned).
    fn length(&mut self, node: Node<'_, '_>, name: &str, axis: Axis, font_size: f64) -> Option<f64> {
        let text = node.attribute(name)?;
        self.length_value(node, name, text, axis, font_size)
    }

    fn length_value(&mut self, node: Node<'_, '_>, name: &str, text: &str, axis: Axis, font: f64) -> Option<f64> {
        match svgtypes::Length::from_str(text.trim()) {
            Ok(length) => self.finite(node, name, user_units(length, self.percent_of(axis), font)),
            Err(e) => {
                self.warn(node, format!("{name} {text:?}: {e}"));
                None
            }
        }
    }

    /// `value`, unless it is beyond the numbers a diagram holds (warned).
    fn finite(&mut self, node: Node<'_, '_>, name: &str, value: f64) -> Option<f64> {
        if value.is_finite() {
            return Some(value);
        }
        self.warn(node, format!("{name}: beyond the numbers a diagram holds; left out"));
        None
    }

    /// The first of a list of lengths (`x="10 20"` on text).
    fn first_length(&mut self, node: Node<'_, '_>, name: &str, axis: Axis, font: f64) -> Option<f64> {
        let text = node.attribute(name)?;
        match svgtypes::LengthListParser::from(text).next()? {
            Ok(length) => self.finite(node, name, user_units(length, self.percent_of(axis), font)),
            Err(e) => {
                self.warn(node, format!("{name} {text:?}: {e}"));
                None
            }
        }
    }

    /// `node`'s own transform; an unreadable one is warned and left out.
    fn transform(&mut self, node: Node<'_, '_>) -> Option<Affine> {
        let text = node.attribute("transform")?;
        match svgtypes::Transform::from_str(text) {
            Ok(t) => {
                let affine = Affine::new([t.a, t.b, t.c, t.d, t.e, t.f]);
                if !affine.is_finite() {
                    self.warn(node, format!("transform {text:?}: beyond the numbers a diagram holds; left out"));
                    return None;
                }
                (affine != Affine::IDENTITY).then_some(affine)
            }
            Err(e) => {
                self.warn(node, format!("transform {text:?}: {e}; left out"));
                None
            }
        }
    }

    /// `node`'s style, inheriting from `parent`.
    fn style(&mut self, node: Node<'a, 'a>, parent: &Style) -> Style {
        let props = Properties::of(node);
        let mut style = *parent;
        if let Some(text) = props.get("visibility") {
            style.visible = match text {
                "hidden" | "collapse" => false,
                "visible" => true,
                _ => parent.visible,
            };
        }
        if let Some(text) = props.get("color") {
            match svgtypes::Color::from_str(text) {
                Ok(c) => style.color = [c.red, c.green, c.blue],
                Err(_) if text == "inherit" => {}
                Err(e) => self.warn(node, format!("color {text:?}: {e}; inherited instead")),
            }
        }
        if let Some(text) = props.get("fill") {
            style.fill = self.paint(node, "fill", text, parent.fill, style.color);
        }
        if let Some(text) = props.get("stroke") {
            style.stroke = self.paint(node, "stroke", text, parent.stroke, style.color);
        }
        if let Some(text) = props.get("font-size").filter(|t| *t != "inherit") {
            style.font_size = self.font_size(node, text, parent.font_size);
        }
        if let Some(text) = props.get("stroke-width").filter(|t| *t != "inherit") {
            let width = self.length_value(node, "stroke-width", text, Axis::Diagonal, style.font_size);
            style.stroke_width = width.unwrap_or(parent.stroke_width);
        }
        style
    }

    /// A `fill` or `stroke` value.
    fn paint(&mut self, node: Node<'_, '_>, property: &str, text: &str, inherited: Paint, current: [u8; 3]) -> Paint {
        match svgtypes::Paint::from_str(text) {
            Ok(svgtypes::Paint::None) => Paint::None,
            Ok(svgtypes::Paint::Inherit) => inherited,
            Ok(svgtypes::Paint::CurrentColor) => Paint::Color(current),
            Ok(svgtypes::Paint::Color(c)) => color_paint(c),
            Ok(svgtypes::Paint::FuncIRI(id, fallback)) => self.paint_server(node, property, id, fallback, current),
            Ok(svgtypes::Paint::ContextFill | svgtypes::Paint::ContextStroke) => {
                self.warn(node, format!("{property} {text:?} (a marker's context paint): none"));
                Paint::None
            }
            Err(e) => {
                self.warn(node, format!("{property} {text:?}: {e}; inherited instead"));
                inherited
            }
        }
    }

    /// `url(#id)`: a gradient gives its first stop's colour; anything else
    /// its fallback, or none.
    fn paint_server(
        &mut self,
        node: Node<'_, '_>,
        property: &str,
        id: &str,
        fallback: Option<svgtypes::PaintFallback>,
        current: [u8; 3],
    ) -> Paint {
        if let Some(stop) = self.first_stop(id) {
            let paint = color_paint(stop);
            let said = match paint {
                Paint::Color(c) => hex(c),
                Paint::None => "none (transparent)".to_owned(),
            };
            self.warn(node, format!("{property} url(#{id}) is a gradient: its first stop's colour {said} used"));
            return paint;
        }
        let (paint, said) = match fallback {
            Some(svgtypes::PaintFallback::Color(c)) => (color_paint(c), "its fallback colour used"),
            Some(svgtypes::PaintFallback::CurrentColor) => (Paint::Color(current), "its fallback currentColor used"),
            Some(svgtypes::PaintFallback::None) | None => (Paint::None, "none"),
        };
        self.warn(
            node,
            format!("{property} url(#{id}) is not a gradient with stops (patterns are not converted): {said}"),
        );
        paint
    }

    /// The first stop's colour of the gradient `id`, following the `href`
    /// chain to the gradient that holds the stops (as Inkscape writes them).
    fn first_stop(&self, id: &str) -> Option<svgtypes::Color> {
        let mut id = id;
        for _ in 0..8 {
            let gradient = *self.by_id.get(id)?;
            if !matches!(svg_name(gradient), Some("linearGradient" | "radialGradient")) {
                return None;
            }
            if let Some(stop) = gradient.children().find(|c| svg_name(*c) == Some("stop")) {
                let text = Properties::of(stop).get("stop-color").unwrap_or("black");
                return Some(svgtypes::Color::from_str(text).unwrap_or(svgtypes::Color::black()));
            }
            id = href(gradient)?.strip_prefix('#')?;
        }
        None
    }

    /// A `font-size`: a length, relative to the parent's for `em` and `%`,
    /// or a keyword.
    fn font_size(&mut self, node: Node<'_, '_>, text: &str, parent: f64) -> f64 {
        let keyword = match text {
            "xx-small" => Some(9.0),
            "x-small" => Some(10.0),
            "small" => Some(13.0),
            "medium" => Some(16.0),
            "large" => Some(18.0),
            "x-large" => Some(24.0),
            "xx-large" => Some(32.0),
            "smaller" => Some(parent / 1.2),
            "larger" => Some(parent * 1.2),
            _ => None,
        };
        if let Some(size) = keyword {
            return size;
        }
        let size = match svgtypes::Length::from_str(text) {
            Ok(length) if length.unit == svgtypes::LengthUnit::Percent => parent * length.number / 100.0,
            Ok(length) => user_units(length, 0.0, parent),
            Err(e) => {
                self.warn(node, format!("font-size {text:?}: {e}; inherited instead"));
                parent
            }
        };
        self.finite(node, "font-size", size).unwrap_or(parent)
    }

    // --- The tree.

    fn children(&mut self, parent: Node<'a, 'a>, style: &Style, ctm: Affine) {
        if self.nesting >= MAX_NESTING {
            return self.warn(parent, format!("nested deeper than {MAX_NESTING}: its content skipped"));
        }
        self.nesting += 1;
        for child in parent.children().filter(Node::is_element) {
            self.element(child, style, ctm);
        }
        self.nesting -= 1;
    }

    fn element(&mut self, node: Node<'a, 'a>, parent: &Style, ctm: Affine) {
        let Some(tag) = svg_name(node) else { return };
        match tag {
            // Not drawn; gradients are used by the paints that name them.
            "title" | "desc" | "metadata" | "linearGradient" | "radialGradient" => return,
            "defs" => return self.defs(node),
            _ => {}
        }
        if Properties::of(node).get("display") == Some("none") {
            return self.warn(node, "hidden (display:none): skipped");
        }
        if !matches!(
            tag,
            "g" | "a" | "rect" | "circle" | "ellipse" | "line" | "polyline" | "polygon" | "path" | "text" | "image"
        ) {
            return self.not_converted(node, tag);
        }
        let style = self.style(node, parent);
        self.ignored_effects(node);
        let transform = self.transform(node);
        let local = ctm * transform.unwrap_or(Affine::IDENTITY);
        if matches!(tag, "g" | "a") {
            self.group(node, &style, transform, local);
        } else {
            self.shape(node, tag, &style, transform, local);
        }
    }

    /// Warns of an element that is not converted, saying why.
    fn not_converted(&mut self, node: Node<'_, '_>, tag: &str) {
        let why = match tag {
            "use" => "a clone (<use>) is not expanded: unlink it in the editor first",
            "svg" => "a nested <svg> is not converted",
            "style" => "a style sheet is not applied: only style attributes and presentation attributes are",
            "clipPath" | "mask" | "filter" | "pattern" | "marker" | "symbol" => "a definition, not drawn",
            "switch" | "foreignObject" | "script" => "not converted",
            "flowRoot" => {
                "flowed text is not converted: make it plain text in the editor (Inkscape: Text > Convert to Text)"
            }
            _ => "an element the import does not know: not converted",
        };
        self.warn(node, why);
    }

    /// `<defs>`: nothing in it is drawn; gradients are used by the paints
    /// that name them, the rest is listed in one warning.
    fn defs(&mut self, node: Node<'_, '_>) {
        let mut skipped: BTreeMap<&str, usize> = BTreeMap::new();
        for child in node.children().filter_map(svg_name) {
            if !matches!(child, "linearGradient" | "radialGradient") {
                *skipped.entry(child).or_default() += 1;
            }
        }
        if !skipped.is_empty() {
            let list: Vec<String> = skipped.iter().map(|(tag, n)| format!("{n} <{tag}>")).collect();
            self.warn(node, format!("definitions not converted: {}", list.join(", ")));
        }
    }

    /// Warns of the effects an element names that the language has not.
    fn ignored_effects(&mut self, node: Node<'a, 'a>) {
        let props = Properties::of(node);
        let mut ignored: Vec<&str> = ["clip-path", "mask", "filter", "marker-start", "marker-mid", "marker-end"]
            .into_iter()
            .filter(|p| props.get(p).is_some_and(|v| v != "none"))
            .collect();
        let translucent = |p: &str| props.get(p).and_then(|v| v.parse::<f64>().ok()).is_some_and(|v| v < 1.0);
        if ["opacity", "fill-opacity", "stroke-opacity"].into_iter().any(translucent) {
            ignored.push("opacity (drawn opaque)");
        }
        if !ignored.is_empty() {
            self.warn(node, format!("{} ignored", ignored.join(", ")));
        }
    }

    /// `<g>` (and a link `<a>`): a Group; an Inkscape layer's label is its Name.
    fn group(&mut self, node: Node<'a, 'a>, style: &Style, transform: Option<Affine>, ctm: Affine) {
        let name = node.attribute((INKSCAPE_NS, "label")).or_else(|| node.attribute("id"));
        self.open_group(name, transform);
        self.children(node, style, ctm);
        self.close_group();
    }

    /// A drawn element: its primitives, painted, in a Group of their own
    /// when the element has a transform.
    fn shape(&mut self, node: Node<'a, 'a>, tag: &str, style: &Style, transform: Option<Affine>, ctm: Affine) {
        if !style.visible {
            return self.warn(node, "hidden (visibility): skipped");
        }
        let tolerance = self.tolerance(ctm);
        let (prims, ink, style) = match tag {
            "rect" => (self.rect(node, style), Ink::Shape, *style),
            "circle" | "ellipse" => (self.ellipse(node, style), Ink::Shape, *style),
            "line" => (self.line(node, style), Ink::Line, *style),
            "polyline" | "polygon" => (self.poly(node, tag == "polygon"), Ink::Shape, *style),
            "path" => (self.path(node, style, tolerance), Ink::Shape, *style),
            "text" => match self.text(node, style) {
                Some((prim, run)) => (vec![prim], Ink::Text, run),
                None => (Vec::new(), Ink::Text, *style),
            },
            _ => (self.image(node, style), Ink::Image, *style),
        };
        if prims.is_empty() {
            return;
        }
        if !prims.iter().flat_map(Prim::points).all(|p| p.is_finite()) {
            return self.warn(node, "coordinates beyond the numbers a diagram holds: skipped");
        }
        let attributes = match ink_attributes(ink, &style) {
            Ok(a) => a,
            Err(why) => return self.warn(node, format!("draws nothing ({why}): skipped")),
        };
        let decimals = tolerance.map_or(DEFAULT_DECIMALS, decimals_for);
        if transform.is_some() {
            self.open_group(None, transform);
        }
        for (i, prim) in prims.iter().enumerate() {
            let id = node.attribute("id").map(|id| if i == 0 { id.to_owned() } else { format!("{id}_{}", i + 1) });
            let id = id.map(|id| self.unique_id(node, id));
            self.write_prim(prim, id.as_deref(), &attributes, decimals);
            self.extend(ctm, &prim.points());
        }
        if transform.is_some() {
            self.close_group();
        }
    }

    /// `id`, or `id_2`, `id_3`… when taken (an SVG with an id twice).
    fn unique_id(&mut self, node: Node<'_, '_>, id: String) -> String {
        if self.ids.insert(id.clone()) {
            return id;
        }
        let free = (2..).map(|n| format!("{id}_{n}")).find(|c| !self.ids.contains(c)).unwrap_or_default();
        self.ids.insert(free.clone());
        self.warn(node, format!("id {id:?} is taken: {free:?} instead"));
        free
    }

    // --- Elements to primitives.

    /// A `rect`'s or `image`'s `x`, `y`, `width`, `height` (0 when absent).
    fn placement(&mut self, node: Node<'_, '_>, font: f64) -> [f64; 4] {
        [
            self.length(node, "x", Axis::X, font).unwrap_or(0.0),
            self.length(node, "y", Axis::Y, font).unwrap_or(0.0),
            self.length(node, "width", Axis::X, font).unwrap_or(0.0),
            self.length(node, "height", Axis::Y, font).unwrap_or(0.0),
        ]
    }

    fn rect(&mut self, node: Node<'_, '_>, style: &Style) -> Vec<Prim> {
        let font = style.font_size;
        let [x, y, w, h] = self.placement(node, font);
        if w <= 0.0 || h <= 0.0 {
            self.warn(node, "width or height not above 0: draws nothing, skipped");
            return Vec::new();
        }
        let rx = self.length(node, "rx", Axis::X, font).unwrap_or(0.0);
        let ry = self.length(node, "ry", Axis::Y, font).unwrap_or(0.0);
        if rx > 0.0 || ry > 0.0 {
            self.warn(node, "rounded corners (rx, ry) dropped");
        }
        vec![Prim::new("Rectangle", Geometry::Box([x, y, x + w, y + h]))]
    }

    /// `<circle>` and `<ellipse>`: an Ellipse by its bounding box.
    fn ellipse(&mut self, node: Node<'_, '_>, style: &Style) -> Vec<Prim> {
        let font = style.font_size;
        let cx = self.length(node, "cx", Axis::X, font).unwrap_or(0.0);
        let cy = self.length(node, "cy", Axis::Y, font).unwrap_or(0.0);
        let (rx, ry) = if svg_name(node) == Some("circle") {
            let r = self.length(node, "r", Axis::Diagonal, font).unwrap_or(0.0);
            (r, r)
        } else {
            let rx = self.length(node, "rx", Axis::X, font);
            let ry = self.length(node, "ry", Axis::Y, font);
            // SVG 2: a missing radius is the other one.
            (rx.or(ry).unwrap_or(0.0), ry.or(rx).unwrap_or(0.0))
        };
        if rx <= 0.0 || ry <= 0.0 {
            self.warn(node, "radius not above 0: draws nothing, skipped");
            return Vec::new();
        }
        vec![Prim::new("Ellipse", Geometry::Box([cx - rx, cy - ry, cx + rx, cy + ry]))]
    }

    fn line(&mut self, node: Node<'_, '_>, style: &Style) -> Vec<Prim> {
        let font = style.font_size;
        let mut at = |name, axis| self.length(node, name, axis, font).unwrap_or(0.0);
        let p = [at("x1", Axis::X), at("y1", Axis::Y), at("x2", Axis::X), at("y2", Axis::Y)];
        vec![Prim::new("Line", Geometry::Box(p))]
    }

    /// `<polyline>` and `<polygon>`; a polygon of two points is a Polyline.
    fn poly(&mut self, node: Node<'_, '_>, closed: bool) -> Vec<Prim> {
        let text = node.attribute("points").unwrap_or_default();
        let points: Vec<Point> = svgtypes::PointsParser::from(text).map(|(x, y)| Point::new(x, y)).collect();
        match points.len() {
            0 | 1 => {
                self.warn(node, "fewer than 2 points: skipped");
                Vec::new()
            }
            2 => vec![Prim::new("Polyline", Geometry::Points(points))],
            _ => vec![Prim::new(if closed { "Polygon" } else { "Polyline" }, Geometry::Points(points))],
        }
    }

    /// `<path>`: one primitive per subpath, curves flattened; a closed
    /// subpath is a Polygon, an open one a Polyline.
    fn path(&mut self, node: Node<'_, '_>, style: &Style, tolerance: Option<f64>) -> Vec<Prim> {
        let text = node.attribute("d").unwrap_or_default();
        let mut elements = Vec::new();
        for segment in svgtypes::SimplifyingPathParser::from(text) {
            match segment {
                Ok(segment) => elements.push(path_el(segment)),
                Err(e) => {
                    // SVG draws a path up to its first error.
                    self.warn(node, format!("path data: {e}; drawn up to there"));
                    break;
                }
            }
        }
        let tolerance = tolerance.unwrap_or_else(|| own_tolerance(&elements));
        let subpaths = flatten(&elements, tolerance);
        let closed = subpaths.iter().filter(|(_, closed)| *closed).count();
        if closed > 1 && style.fill != Paint::None {
            self.warn(node, format!("{closed} closed subpaths filled one by one: holes are not kept"));
        }
        subpaths.into_iter().filter_map(|(points, closed)| subpath_prim(points, closed)).collect()
    }

    /// `<text>`: one Text of all its text (tspans joined), at its first
    /// position, sized and painted as its first run of text.
    fn text(&mut self, node: Node<'a, 'a>, style: &Style) -> Option<(Prim, Style)> {
        let mut content = TextContent::default();
        self.collect_text(node, style, &mut content);
        let text = content.text.split_whitespace().collect::<Vec<_>>().join(" ");
        if text.is_empty() {
            self.warn(node, "no text: skipped");
            return None;
        }
        if content.lines > 1 {
            self.warn(node, format!("{} lines joined into one Text", content.lines));
        }
        if content.anchored {
            self.warn(node, "text-anchor ignored: the text starts at its position");
        }
        let x = self.first_length(node, "x", Axis::X, style.font_size).or(content.x).unwrap_or(0.0);
        let y = self.first_length(node, "y", Axis::Y, style.font_size).or(content.y).unwrap_or(0.0);
        let run = content.style.unwrap_or(*style);
        Some((Prim::new("Text", Geometry::Text { at: Point::new(x, y), size: run.font_size, text }), run))
    }

    fn collect_text(&mut self, node: Node<'a, 'a>, style: &Style, content: &mut TextContent) {
        if Properties::of(node).get("text-anchor").is_some_and(|a| a == "middle" || a == "end") {
            content.anchored = true;
        }
        for child in node.children() {
            if let Some(text) = child.text().filter(|_| child.is_text()) {
                if content.style.is_none() && !text.trim().is_empty() {
                    content.style = Some(*style);
                }
                content.text.push_str(text);
                continue;
            }
            match svg_name(child) {
                Some("tspan") if Properties::of(child).get("display") != Some("none") => {
                    if child.attribute((SODIPODI_NS, "role")) == Some("line") {
                        content.lines += 1;
                        content.text.push(' ');
                    }
                    let child_style = self.style(child, style);
                    if content.x.is_none() {
                        content.x = self.first_length(child, "x", Axis::X, child_style.font_size);
                        content.y = self.first_length(child, "y", Axis::Y, child_style.font_size);
                    }
                    self.collect_text(child, &child_style, content);
                }
                Some("textPath") => self.warn(child, "text on a path is not converted"),
                _ => {}
            }
        }
    }

    /// `<image>` by reference: an Image; an embedded one is not kept.
    fn image(&mut self, node: Node<'_, '_>, style: &Style) -> Vec<Prim> {
        let Some(link) = href(node) else {
            self.warn(node, "no href: skipped");
            return Vec::new();
        };
        if link.starts_with("data:") {
            self.warn(node, "an embedded image (data: URI) is not kept: save it in the diagrams folder and link it");
            return Vec::new();
        }
        let [x, y, w, h] = self.placement(node, style.font_size);
        if w <= 0.0 || h <= 0.0 {
            self.warn(node, "no width and height above 0 (the image's own size is not read): skipped");
            return Vec::new();
        }
        let mut prim = Prim::new("Image", Geometry::Box([x, y, x + w, y + h]));
        prim.href = Some(link.to_owned());
        vec![prim]
    }

    // --- Writing.

    fn write_line(&mut self, text: &str) {
        for _ in 0..self.depth {
            self.body.push_str("  ");
        }
        self.body.push_str(text);
        self.body.push('\n');
    }

    fn open_group(&mut self, name: Option<&str>, transform: Option<Affine>) {
        let mut tag = String::from("<Group");
        if let Some(name) = name {
            let _ = write!(tag, " Name=\"{}\"", escape_attribute(name));
        }
        if let Some(t) = transform {
            // SVG's matrix(a,b,c,d,e,f) is x' = a·x + c·y + e, y' = b·x + d·y + f;
            // the language's Transform is a1·x + a2·y + a3, a4·x + a5·y + a6.
            let [a, b, c, d, e, f] = t.as_coeffs();
            let _ = write!(tag, " Transform=\"{}\"", [a, c, e, b, d, f].map(|v| number(v, EXACT_DECIMALS)).join(","));
        }
        tag.push('>');
        self.write_line(&tag);
        self.depth += 1;
    }

    fn close_group(&mut self) {
        self.depth -= 1;
        self.write_line("</Group>");
    }

    fn write_prim(&mut self, prim: &Prim, id: Option<&str>, ink: &[(&str, String)], decimals: usize) {
        let mut tag = format!("<{}", prim.tag);
        if let Some(id) = id {
            let _ = write!(tag, " id=\"{}\"", escape_attribute(id));
        }
        let n = |v: f64| number(v, decimals);
        match &prim.geometry {
            Geometry::Box(p) => {
                let _ = write!(tag, " position=\"{}\"", p.map(n).join(","));
            }
            Geometry::Points(points) => {
                let list: Vec<String> = points.iter().map(|p| format!("{},{}", n(p.x), n(p.y))).collect();
                let _ = write!(tag, " points=\"{}\"", list.join(" "));
            }
            Geometry::Text { at, size, .. } => {
                let _ = write!(tag, " position=\"{},{}\" size=\"{}\"", n(at.x), n(at.y), n(*size));
            }
        }
        if let Some(href) = &prim.href {
            let _ = write!(tag, " href=\"{}\"", escape_attribute(href));
        }
        for (name, value) in ink {
            let _ = write!(tag, " {name}=\"{value}\"");
        }
        match &prim.geometry {
            Geometry::Text { text, .. } => {
                let _ = write!(tag, ">{}</Text>", text_content(text));
            }
            _ => tag.push_str("/>"),
        }
        self.write_line(&tag);
    }

    fn finish(mut self, name: &str, declared: Option<[f64; 4]>) -> Imported {
        let range =
            declared.or_else(|| self.extent.map(|r| [r.x0, r.y0, r.x1, r.y1])).unwrap_or([0.0, 0.0, 100.0, 100.0]);
        let range = range.map(|v| number(v, EXACT_DECIMALS)).join(",");
        let mut xml = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        xml.push_str("<!-- Imported from SVG by meterhub diagram import; bind data to it (docs/diagrams.md). -->\n");
        let _ = writeln!(xml, "<Diagram Name=\"{}\" Range=\"{range}\">", escape_attribute(name));
        xml.push_str(&self.body);
        xml.push_str("</Diagram>\n");
        self.warnings.sort_by_key(|w| (w.line, w.col));
        Imported { xml, warnings: self.warnings }
    }
}

/// What a `<text>` holds, gathered from it and its tspans.
#[derive(Debug, Default)]
struct TextContent {
    text: String,
    /// The style of the first run of text.
    style: Option<Style>,
    /// Inkscape's line tspans (`sodipodi:role="line"`).
    lines: usize,
    /// The first tspan's position, for a text without one.
    x: Option<f64>,
    y: Option<f64>,
    /// A `text-anchor` other than `start`.
    anchored: bool,
}

/// The colour attributes of a primitive painted as `style` says, or why it
/// draws nothing.
///
/// SVG paints a shape's inside with `fill` (black unless said otherwise)
/// and its outline with `stroke` (none unless said otherwise); the language
/// draws every outline, in `color` or else the viewer's default line colour.
/// So an outline SVG does not draw takes the fill's colour (the shape looks
/// as in SVG, a hairline larger at most), and a shape painted by neither is
/// skipped rather than drawn in a colour the drawing never had. A line is
/// drawn by its stroke alone; text by its fill in SVG, which becomes its
/// `color` (its stroke when it has no fill).
fn ink_attributes(ink: Ink, style: &Style) -> Result<Vec<(&'static str, String)>, &'static str> {
    let stroke = match style.stroke {
        Paint::Color(c) if style.stroke_width > 0.0 => Some(c),
        _ => None,
    };
    let fill = match style.fill {
        Paint::Color(c) => Some(c),
        Paint::None => None,
    };
    let width = || ("width", number(style.stroke_width, EXACT_DECIMALS));
    match ink {
        Ink::Image => Ok(Vec::new()),
        Ink::Line => {
            let color = stroke.ok_or("no stroke")?;
            Ok(vec![("color", hex(color)), width()])
        }
        Ink::Text => {
            let color = fill.or(stroke).ok_or("neither fill nor stroke")?;
            Ok(vec![("color", hex(color))])
        }
        Ink::Shape => match (stroke, fill) {
            (Some(s), f) => Ok(vec![("color", hex(s)), ("fill", f.map_or_else(|| "no".to_owned(), hex)), width()]),
            (None, Some(f)) => Ok(vec![("color", hex(f)), ("fill", hex(f))]),
            (None, None) => Err("neither fill nor stroke"),
        },
    }
}

/// A colour, none when fully transparent (the alpha is otherwise dropped).
fn color_paint(c: svgtypes::Color) -> Paint {
    if c.alpha == 0 { Paint::None } else { Paint::Color([c.red, c.green, c.blue]) }
}

fn hex([r, g, b]: [u8; 3]) -> String {
    format!("{r:02x}{g:02x}{b:02x}")
}

/// `xlink:href`, or SVG 2's `href`.
fn href<'a>(node: Node<'a, '_>) -> Option<&'a str> {
    node.attribute((XLINK_NS, "href")).or_else(|| node.attribute("href"))
}

/// A length in user units (px): `reference` is what 100% is, `font` what
/// 1em is.
fn user_units(length: svgtypes::Length, reference: f64, font: f64) -> f64 {
    use svgtypes::LengthUnit as U;
    let n = length.number;
    match length.unit {
        U::None | U::Px => n,
        U::Mm => n * 96.0 / 25.4,
        U::Cm => n * 96.0 / 2.54,
        U::In => n * 96.0,
        U::Pt => n * 96.0 / 72.0,
        U::Pc => n * 16.0,
        U::Em => n * font,
        U::Ex => n * font / 2.0,
        U::Percent => n * reference / 100.0,
    }
}

/// How much `ctm` enlarges at most: its larger singular value.
fn largest_scale(ctm: Affine) -> f64 {
    let [a, b, c, d, _, _] = ctm.as_coeffs();
    let sum = a * a + b * b + c * c + d * d;
    let det = a * d - b * c;
    ((sum + (sum * sum - 4.0 * det * det).max(0.0).sqrt()) / 2.0).sqrt()
}

/// Decimals enough for a hundredth of `tolerance`.
fn decimals_for(tolerance: f64) -> usize {
    let decimals = -(tolerance / 100.0).log10();
    if decimals.is_finite() { decimals.ceil().clamp(0.0, 12.0) as usize } else { DEFAULT_DECIMALS }
}

/// `v` with at most `decimals` decimals, trailing zeros dropped.
fn number(v: f64, decimals: usize) -> String {
    let text = format!("{v:.decimals$}");
    let text = if text.contains('.') { text.trim_end_matches('0').trim_end_matches('.') } else { &text };
    if text == "-0" { "0".to_owned() } else { text.to_owned() }
}

/// Escapes an attribute value, its line breaks and tabs too (a reader
/// would turn them into spaces).
fn escape_attribute(text: &str) -> String {
    quick_xml::escape::escape(text).replace('\n', "&#10;").replace('\r', "&#13;").replace('\t', "&#9;")
}

/// A Text's content: as it is, or a CDATA section when it holds `&`, `<`
/// or `>`. Not entity references: the diagram reader drops them from text
/// content (quick-xml reports `&amp;` as an event of its own, which the
/// reader does not take as text).
fn text_content(text: &str) -> String {
    if text.contains(['&', '<', '>']) {
        format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
    } else {
        text.to_owned()
    }
}

fn path_el(segment: svgtypes::SimplePathSegment) -> PathEl {
    use svgtypes::SimplePathSegment as S;
    match segment {
        S::MoveTo { x, y } => PathEl::MoveTo(Point::new(x, y)),
        S::LineTo { x, y } => PathEl::LineTo(Point::new(x, y)),
        S::CurveTo { x1, y1, x2, y2, x, y } => {
            PathEl::CurveTo(Point::new(x1, y1), Point::new(x2, y2), Point::new(x, y))
        }
        S::Quadratic { x1, y1, x, y } => PathEl::QuadTo(Point::new(x1, y1), Point::new(x, y)),
        S::ClosePath => PathEl::ClosePath,
    }
}

/// For a drawing of no declared size: a share of the path's own size.
fn own_tolerance(elements: &[PathEl]) -> f64 {
    let mut bounds: Option<Rect> = None;
    for el in elements {
        let points: &[Point] = match el {
            PathEl::MoveTo(p) | PathEl::LineTo(p) => std::slice::from_ref(p),
            PathEl::QuadTo(a, b) => &[*a, *b],
            PathEl::CurveTo(a, b, c) => &[*a, *b, *c],
            PathEl::ClosePath => &[],
        };
        for p in points {
            bounds = Some(bounds.map_or_else(|| Rect::from_points(*p, *p), |r| r.union_pt(*p)));
        }
    }
    let size = bounds.map_or(0.0, |r| r.width().max(r.height()));
    if size > 0.0 { size * FLATTEN_FRACTION } else { 1e-3 }
}

/// The path as polylines, one per subpath, each with whether it is closed.
fn flatten(elements: &[PathEl], tolerance: f64) -> Vec<(Vec<Point>, bool)> {
    let mut subpaths: Vec<(Vec<Point>, bool)> = Vec::new();
    kurbo::flatten(elements.iter().copied(), tolerance, |el| match el {
        PathEl::MoveTo(p) => subpaths.push((vec![p], false)),
        PathEl::LineTo(p) => {
            if let Some((points, _)) = subpaths.last_mut()
                && points.last() != Some(&p)
            {
                points.push(p);
            }
        }
        PathEl::ClosePath => {
            if let Some((_, closed)) = subpaths.last_mut() {
                *closed = true;
            }
        }
        PathEl::QuadTo(..) | PathEl::CurveTo(..) => {}
    });
    subpaths
}

/// A subpath's primitive: a Polygon when closed (its closing point, the
/// same as its first, dropped), else a Polyline; none for a lone point.
fn subpath_prim(mut points: Vec<Point>, closed: bool) -> Option<Prim> {
    if closed && points.len() > 1 && points.first() == points.last() {
        points.pop();
    }
    match points.len() {
        0 | 1 => None,
        2 => Some(Prim::new("Polyline", Geometry::Points(points))),
        _ => Some(Prim::new(if closed { "Polygon" } else { "Polyline" }, Geometry::Points(points))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_short_and_never_minus_zero() {
        assert_eq!(number(10.0, 3), "10");
        assert_eq!(number(-0.0001, 3), "0");
        assert_eq!(number(0.1 + 0.2, 3), "0.3");
        assert_eq!(number(6.123e-17, EXACT_DECIMALS), "0");
        assert_eq!(decimals_for(0.2), 3);
    }

    #[test]
    fn the_largest_scale_of_a_transform() {
        assert!((largest_scale(Affine::scale_non_uniform(2.0, 5.0)) - 5.0).abs() < 1e-12);
        assert!((largest_scale(Affine::rotate(0.7) * Affine::scale(3.0)) - 3.0).abs() < 1e-12);
    }

    #[test]
    fn a_style_declaration_wins_over_the_attribute() {
        let doc = Document::parse(r#"<svg><rect fill="red" style="fill: #00ff00 ; stroke:none"/></svg>"#).unwrap();
        let rect = doc.root_element().first_element_child().unwrap();
        let props = Properties::of(rect);
        assert_eq!((props.get("fill"), props.get("stroke"), props.get("width")), (Some("#00ff00"), Some("none"), None));
    }
}
