//! The streaming reader: one pass over the file with quick-xml, keeping
//! only what the compiled diagram holds plus a stack of the open tags and a
//! fix-up table of references to names not seen yet, resolved at the end.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;
use std::path::Path;

use quick_xml::events::{BytesStart, Event};
use quick_xml::reader::Reader;

use crate::lines::Lines;
use crate::model::{
    Action, Condition, Diagram, Effect, Element, Group, Object, Producer, Property, Shape, Signal, Target, VERSION,
};
use crate::values::{color, exactly, fill, numbers};

/// Most errors reported for one file.
pub const MAX_ERRORS: usize = 100;

/// One problem, where it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{line}:{col}: {message}")]
pub struct DiagramError {
    /// 1-based line.
    pub line: u32,
    /// 1-based column (bytes).
    pub col: u32,
    /// What is wrong.
    pub message: String,
}

/// Reads and compiles the diagram in `path`; errors as `file:line:col: cause`.
pub fn parse_file(path: &Path) -> Result<Diagram, Vec<String>> {
    let file = std::fs::File::open(path).map_err(|e| vec![format!("{}: cannot read: {e}", path.display())])?;
    parse(std::io::BufReader::new(file))
        .map_err(|errors| errors.iter().map(|e| format!("{}:{e}", path.display())).collect())
}

/// Reads and compiles a diagram from `input`; the standard objects
/// ([`crate::library`]) are there to use without defining them.
pub fn parse<R: BufRead>(input: R) -> Result<Diagram, Vec<DiagramError>> {
    parse_with(input, Some(crate::library::standard()))
}

/// Reads and compiles a diagram from `input`, with `library`'s objects
/// there to use (a used one is copied into the compiled diagram, so it
/// stands alone).
pub(crate) fn parse_with<R: BufRead>(
    input: R,
    library: Option<&'static BTreeMap<String, Object>>,
) -> Result<Diagram, Vec<DiagramError>> {
    let mut reader = Reader::from_reader(Lines::new(input));
    let mut p = Parser { library, ..Parser::default() };
    let mut buf = Vec::new();
    loop {
        let start = reader.buffer_position();
        let event = reader.read_event_into(&mut buf);
        let at = reader.get_mut().position(start);
        match event {
            Ok(Event::Start(e)) => p.open(&e, at, false),
            Ok(Event::Empty(e)) => p.open(&e, at, true),
            Ok(Event::End(_)) => p.close(),
            Ok(Event::Text(t)) => {
                let text = t.decode().map(|s| s.into_owned()).unwrap_or_default();
                let text = quick_xml::escape::unescape(&text).map(|s| s.into_owned()).unwrap_or(text);
                p.text(&text, at);
            }
            Ok(Event::CData(t)) => p.text(&String::from_utf8_lossy(&t), at),
            // quick-xml gives `&amp;` and `&#1071;` apart from the text around them.
            Ok(Event::GeneralRef(r)) => match r.resolve_char_ref() {
                Ok(Some(c)) => p.text(c.encode_utf8(&mut [0; 4]), at),
                _ => {
                    let name = r.decode().map(|n| n.into_owned()).unwrap_or_default();
                    match quick_xml::escape::resolve_predefined_entity(&name) {
                        Some(text) => p.text(text, at),
                        None => p.error(at, format!("unknown entity &{name};")),
                    }
                }
            },
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => {
                let offset = reader.error_position();
                let at = reader.get_mut().position(offset);
                p.error(at, format!("not well-formed XML: {e}"));
                break;
            }
        }
        if p.errors.len() >= MAX_ERRORS {
            break;
        }
        buf.clear();
    }
    p.finish()
}

type At = (u32, u32);

/// Where the elements and actions being read go: the diagram, or an
/// object being defined.
#[derive(Debug, Default)]
struct Scope {
    elements: Vec<Element>,
    actions: Vec<Action>,
    /// Named elements (`id`) -> ordinal.
    ids: HashMap<String, u32>,
}

#[derive(Debug)]
enum Open {
    Diagram,
    Group,
    Element(u32),
    Object(String),
    /// A producer and the actions it starts.
    Producer(Producer),
    /// An action being read; `target` set in the TARGET-ACTION-PRODUCER form.
    Action {
        effect: Option<Effect>,
        producer: Option<Producer>,
        target: Option<Target>,
        targets: usize,
        at: At,
    },
    /// `<Target>` around actions: the enclosing element is their target.
    TargetWrap(u32),
    Leaf,
}

/// A reference to an element by name, not yet seen when read.
#[derive(Debug)]
struct Fixup {
    /// The object whose scope it is in (`None`: the diagram).
    object: Option<String>,
    action: usize,
    name: String,
    /// In the producer (`true`) or the target.
    producer: bool,
    at: At,
}

#[derive(Debug, Default)]
struct Parser {
    diagram: Diagram,
    stack: Vec<Open>,
    groups: Vec<u32>,
    scope: Scope,
    /// The object being defined, and the diagram's scope while it is.
    object: Option<(String, Object, Scope)>,
    features: HashMap<String, u32>,
    signals: BTreeMap<Signal, u32>,
    fixups: Vec<Fixup>,
    /// References by ordinal, checked when their scope ends: the object
    /// (`None`: the diagram), the ordinal, where.
    ordinals: Vec<(Option<String>, u32, At)>,
    errors: Vec<DiagramError>,
    seen_root: bool,
    /// Objects to use without defining them (the standard library).
    library: Option<&'static BTreeMap<String, Object>>,
}

fn attributes(e: &BytesStart<'_>) -> Result<HashMap<String, String>, String> {
    let mut out = HashMap::new();
    for a in e.attributes() {
        let a = a.map_err(|e| format!("bad attribute: {e}"))?;
        let key = String::from_utf8_lossy(a.key.as_ref()).to_ascii_lowercase();
        let value = a.unescape_value().map_err(|e| format!("bad attribute value: {e}"))?.into_owned();
        if out.insert(key.clone(), value).is_some() {
            return Err(format!("attribute {key:?} is written twice"));
        }
    }
    Ok(out)
}

fn four(v: Vec<f64>) -> [f64; 4] {
    [v[0], v[1], v[2], v[3]]
}

impl Parser {
    fn error(&mut self, at: At, message: impl Into<String>) {
        if self.errors.len() < MAX_ERRORS {
            self.errors.push(DiagramError { line: at.0, col: at.1, message: message.into() });
        }
    }

    /// The element the tag being read is directly in.
    fn parent_element(&self) -> Option<u32> {
        match self.stack.last() {
            Some(Open::Element(n)) => Some(*n),
            _ => None,
        }
    }

    /// Whether an element may be drawn here: in the diagram, a group or an
    /// object, not inside another element or an action.
    fn drawing_place(&self) -> bool {
        matches!(self.stack.last(), Some(Open::Diagram | Open::Group | Open::Object(_)))
    }

    fn feature(&mut self, name: &str) -> u32 {
        let next = self.diagram.features.len() as u32;
        *self.features.entry(name.to_owned()).or_insert_with(|| {
            self.diagram.features.push(name.to_owned());
            next
        })
    }

    fn signal(&mut self, device: String, channel: String) -> u32 {
        let next = self.signals.len() as u32;
        *self.signals.entry(Signal { device, channel }).or_insert(next)
    }

    fn open(&mut self, e: &BytesStart<'_>, at: At, empty: bool) {
        let name = String::from_utf8_lossy(e.name().as_ref()).into_owned();
        let attrs = match attributes(e) {
            Ok(a) => a,
            Err(message) => {
                self.error(at, format!("<{name}>: {message}"));
                HashMap::new()
            }
        };
        let open = self.open_tag(&name, &attrs, at).unwrap_or_else(|message| {
            self.error(at, format!("<{name}>: {message}"));
            Open::Leaf
        });
        if empty {
            self.close_open(open);
        } else {
            self.stack.push(open);
        }
    }

    fn open_tag(&mut self, name: &str, a: &HashMap<String, String>, at: At) -> Result<Open, String> {
        let get = |key: &str| a.get(key).map(String::as_str);
        let need = |key: &str| get(key).ok_or_else(|| format!("needs the attribute {key:?}"));
        if !self.seen_root {
            if name != "Diagram" {
                return Err("a diagram file starts with <Diagram>".into());
            }
            self.seen_root = true;
            self.diagram.version = VERSION;
            self.diagram.name = get("name").unwrap_or_default().to_owned();
            self.diagram.range = four(exactly(need("range")?, 4, "Range")?);
            self.diagram.background = get("background").map(color).transpose()?;
            return Ok(Open::Diagram);
        }
        match name {
            "Diagram" => Err("a diagram holds one <Diagram>".into()),
            "Group" => {
                if !self.drawing_place() {
                    return Err("a <Group> is in the diagram or another group".into());
                }
                if self.object.is_some() {
                    return Err("groups belong to the diagram, not inside an <Object>".into());
                }
                let quad = |key: &str, what: &str| get(key).map(|v| exactly(v, 4, what).map(four)).transpose();
                let transform = get("transform")
                    .map(|v| exactly(v, 6, "Transform").map(|t| [t[0], t[1], t[2], t[3], t[4], t[5]]))
                    .transpose()?;
                let group = Group {
                    name: get("name").map(str::to_owned),
                    range: quad("range", "Range")?,
                    port: quad("port", "Port")?,
                    transform,
                    parent: self.groups.last().copied(),
                };
                self.groups.push(self.diagram.groups.len() as u32);
                self.diagram.groups.push(group);
                Ok(Open::Group)
            }
            "Object" => {
                if !matches!(self.stack.last(), Some(Open::Diagram)) {
                    return Err("an <Object> is defined at the top of the diagram".into());
                }
                let object_name = need("name")?.to_owned();
                if self.diagram.objects.contains_key(&object_name) || is_builtin(&object_name) {
                    return Err(format!("object {object_name:?} is defined already"));
                }
                let object = Object {
                    range: four(exactly(need("range")?, 4, "Range")?),
                    properties: Vec::new(),
                    elements: Vec::new(),
                    actions: Vec::new(),
                };
                let diagram_scope = std::mem::take(&mut self.scope);
                self.object = Some((object_name.clone(), object, diagram_scope));
                Ok(Open::Object(object_name))
            }
            "Property" => self.property(a),
            "Feature" => {
                let feature = self.feature(need("name")?);
                let n = self.parent_element().ok_or("a <Feature> goes inside the element it marks")?;
                self.scope.elements[n as usize - 1].features.push(feature);
                Ok(Open::Leaf)
            }
            "Producer" => {
                if !matches!(self.stack.last(), Some(Open::Diagram | Open::Group | Open::Object(_) | Open::Element(_)))
                {
                    return Err("a <Producer> is in an element, a group, an object or the diagram".into());
                }
                let producer = self.producer(a, at)?;
                Ok(Open::Producer(producer))
            }
            "Target" => self.target_tag(a, at),
            "Action" => self.action_tag(a, at),
            "Attach" => {
                let producer = self.producer(a, at)?;
                match self.stack.last_mut() {
                    Some(Open::Action { producer: slot, .. }) => {
                        *slot = Some(producer);
                        Ok(Open::Leaf)
                    }
                    _ => Err("<Attach> goes inside an <Action> inside a <Target>".into()),
                }
            }
            _ => self.element(name, a),
        }
    }

    /// A primitive or an object used as an element.
    fn element(&mut self, name: &str, a: &HashMap<String, String>) -> Result<Open, String> {
        if !self.drawing_place() {
            return Err("elements are drawn in the diagram, a group or an object, not inside another element".into());
        }
        let get = |key: &str| a.get(key).map(String::as_str);
        let need = |key: &str| get(key).ok_or_else(|| format!("needs the attribute {key:?}"));
        let box4 = || exactly(need("position")?, 4, "position").map(four);
        let shape = match name {
            "Line" => Shape::Line { p: box4()? },
            "Rectangle" => Shape::Rect { p: box4()? },
            "Ellipse" => Shape::Ellipse { p: box4()? },
            "Arc" => Shape::Arc {
                p: box4()?,
                start: exactly(need("start")?, 1, "start")?[0],
                sweep: exactly(need("sweep")?, 1, "sweep")?[0],
            },
            "Polyline" | "Polygon" => {
                let p = numbers(need("points")?)?;
                let least = if name == "Polygon" { 3 } else { 2 };
                if p.len() % 2 != 0 || p.len() < 2 * least {
                    return Err(format!("points are x,y pairs, at least {least}"));
                }
                if name == "Polygon" { Shape::Polygon { p } } else { Shape::Polyline { p } }
            }
            "Text" => {
                let p = exactly(need("position")?, 2, "position")?;
                let size = get("size").map(|s| exactly(s, 1, "size")).transpose()?.map_or(10.0, |s| s[0]);
                Shape::Text { p: [p[0], p[1]], text: get("text").unwrap_or_default().to_owned(), size }
            }
            "Image" => Shape::Image { p: box4()?, href: need("href")?.to_owned() },
            object if self.known_object(object) => {
                Shape::Object { p: box4()?, object: object.to_owned(), props: BTreeMap::new() }
            }
            other => {
                return Err(format!(
                    "unknown element {other:?}: not a primitive (Line, Polyline, Polygon, Rectangle, Ellipse, Arc, Text, Image), no <Object Name={other:?}> above and no standard object ({})",
                    self.library
                        .map(|l| l.keys().map(String::as_str).collect::<Vec<_>>().join(", "))
                        .unwrap_or_default()
                ));
            }
        };
        let element = Element {
            shape,
            id: get("id").map(str::to_owned),
            color: get("color").map(color).transpose()?,
            fill: get("fill").map(fill).transpose()?.flatten(),
            width: get("width").map(|w| exactly(w, 1, "width")).transpose()?.map(|w| w[0]),
            group: self.groups.last().copied(),
            features: Vec::new(),
        };
        let ordinal = self.scope.elements.len() as u32 + 1;
        if let Some(id) = &element.id
            && self.scope.ids.insert(id.clone(), ordinal).is_some()
        {
            return Err(format!("id {id:?} is used twice"));
        }
        self.scope.elements.push(element);
        Ok(Open::Element(ordinal))
    }

    /// Whether `name` is an object defined above or a standard one (then
    /// copied into the diagram, which must stand alone).
    fn known_object(&mut self, name: &str) -> bool {
        if self.diagram.objects.contains_key(name) {
            return true;
        }
        match self.library.and_then(|l| l.get(name)) {
            Some(object) => {
                self.diagram.objects.insert(name.to_owned(), object.clone());
                true
            }
            None => false,
        }
    }

    /// `<Property>`: an object's definition, or an instance's value.
    fn property(&mut self, a: &HashMap<String, String>) -> Result<Open, String> {
        let name = a.get("name").ok_or("needs the attribute \"name\"")?.clone();
        let value = a.get("value").cloned().unwrap_or_default();
        if let Some(Open::Object(_)) = self.stack.last() {
            let kind = a.get("type").map_or("string", String::as_str).to_owned();
            if !["integer", "number", "string", "boolean", "color"].contains(&kind.as_str()) {
                return Err(format!("type {kind:?} is not one of integer, number, string, boolean, color"));
            }
            check_value(&kind, &value)?;
            let (_, object, _) = self.object.as_mut().expect("inside an object");
            object.properties.push(Property { name, kind, value });
            return Ok(Open::Leaf);
        }
        let n = match self.stack.last() {
            Some(Open::Element(n)) => *n,
            _ => return Err("a <Property> goes inside an <Object> or an object used as an element".into()),
        };
        let Shape::Object { object, props, .. } = &mut self.scope.elements[n as usize - 1].shape else {
            return Err("only an object used as an element has properties".into());
        };
        let definition = &self.diagram.objects[object.as_str()];
        let Some(declared) = definition.properties.iter().find(|p| p.name == name) else {
            return Err(format!("object {object:?} has no property {name:?}"));
        };
        check_value(&declared.kind, &value)?;
        props.insert(name, value);
        Ok(Open::Leaf)
    }

    /// What starts an action: a user event on the enclosing element, data
    /// (`device`, `channel`), or an object's property.
    fn producer(&mut self, a: &HashMap<String, String>, at: At) -> Result<Producer, String> {
        let get = |key: &str| a.get(key).map(String::as_str);
        if let Some(property) = get("property") {
            let Some((_, object, _)) = &self.object else {
                return Err("a property producer belongs inside an <Object>".into());
            };
            if !object.properties.iter().any(|p| p.name == property) {
                return Err(format!("the object has no property {property:?} (declare it above)"));
            }
            return Ok(Producer::Property { property: property.to_owned(), when: condition(a)? });
        }
        if get("device").is_some()
            || get("channel").is_some()
            || get("event").is_some_and(|e| e.eq_ignore_ascii_case("data"))
        {
            let device = get("device").ok_or("a data producer names its \"device\"")?.to_owned();
            let channel = get("channel").ok_or("a data producer names its \"channel\"")?.to_owned();
            let signal = self.signal(device, channel);
            return Ok(Producer::Data { signal, when: condition(a)? });
        }
        let event = get("event")
            .ok_or("needs an \"event\" (click, mousedown, mouseup, hover, open, data)")?
            .to_ascii_lowercase();
        if event == "open" {
            return Ok(Producer::Open);
        }
        if !["click", "mousedown", "mouseup", "hover"].contains(&event.as_str()) {
            return Err(format!("event {event:?} is not one of click, mousedown, mouseup, hover, open, data"));
        }
        // An <Attach> names its element; a <Producer> is its enclosing one.
        let element = match (get("id"), get("ordinal")) {
            (Some(id), _) => match self.scope.ids.get(id) {
                Some(n) => *n,
                None => {
                    self.pending(id, true, at);
                    0
                }
            },
            (None, Some(n)) => self.ordinal(n, at)?,
            (None, None) => self
                .parent_element()
                .ok_or("a user event's producer is inside an element, or names one (id or ordinal)")?,
        };
        Ok(Producer::User { event, element })
    }

    /// Remembers a reference by name to an element not seen yet; the
    /// action being read is the next one in the scope.
    fn pending(&mut self, name: &str, producer: bool, at: At) {
        let object = self.object.as_ref().map(|(n, _, _)| n.clone());
        self.fixups.push(Fixup { object, action: usize::MAX, name: name.to_owned(), producer, at });
    }

    /// An element named by its ordinal, checked when its scope ends.
    fn ordinal(&mut self, text: &str, at: At) -> Result<u32, String> {
        let n: u32 = text.trim().parse().map_err(|_| format!("ordinal {text:?} is not a whole number"))?;
        if n == 0 {
            return Err("ordinals start at 1".into());
        }
        let object = self.object.as_ref().map(|(name, _, _)| name.clone());
        self.ordinals.push((object, n, at));
        Ok(n)
    }

    /// Checks the ordinals of `object`'s scope (`None`: the diagram)
    /// against its `elements`.
    fn check_ordinals(&mut self, object: Option<&str>, elements: usize) {
        let (mine, rest): (Vec<_>, Vec<_>) =
            std::mem::take(&mut self.ordinals).into_iter().partition(|(o, _, _)| o.as_deref() == object);
        self.ordinals = rest;
        for (_, n, at) in mine {
            if n as usize > elements {
                let whose = if object.is_some() { "the object" } else { "the diagram" };
                self.error(at, format!("ordinal {n} names no element ({whose} has {elements})"));
            }
        }
    }

    /// `<Target>`: inside an action, what it aims at; around actions (inside
    /// an element), the element is their target.
    fn target_tag(&mut self, a: &HashMap<String, String>, at: At) -> Result<Open, String> {
        let get = |key: &str| a.get(key).map(String::as_str);
        if !matches!(self.stack.last(), Some(Open::Action { .. })) {
            let n = self.parent_element().ok_or("a <Target> around actions goes inside the element they act on")?;
            return Ok(Open::TargetWrap(n));
        }
        let target = if let Some(id) = get("id") {
            match self.scope.ids.get(id) {
                Some(n) => Target::Element { element: *n },
                None => {
                    self.pending(id, false, at);
                    Target::Element { element: 0 }
                }
            }
        } else if let Some(n) = get("ordinal") {
            Target::Element { element: self.ordinal(n, at)? }
        } else if let Some(feature) = get("feature") {
            Target::Feature { feature: self.feature(feature) }
        } else if get("diagram").is_some() {
            Target::Diagram
        } else {
            return Err("a target names an \"id\", an \"ordinal\", a \"feature\" or the \"diagram\"".into());
        };
        let Some(Open::Action { effect, producer, targets, .. }) = self.stack.last_mut() else { unreachable!() };
        *targets += 1;
        let (effect, producer) = (effect.clone(), producer.clone());
        if let (Some(effect), Some(producer)) = (effect, producer) {
            self.push_action(Action { producer, effect, target });
        }
        Ok(Open::Leaf)
    }

    fn push_action(&mut self, action: Action) {
        let index = self.scope.actions.len();
        for f in self.fixups.iter_mut().filter(|f| f.action == usize::MAX) {
            f.action = index;
        }
        self.scope.actions.push(action);
    }

    fn action_tag(&mut self, a: &HashMap<String, String>, at: At) -> Result<Open, String> {
        let effect = effect(a);
        let (producer, target) = match self.stack.last() {
            Some(Open::Producer(p)) => (Some(p.clone()), None),
            Some(Open::TargetWrap(n)) => (None, Some(Target::Element { element: *n })),
            _ => return Err("an <Action> goes inside a <Producer> or a <Target>".into()),
        };
        let effect = match effect {
            Ok(e) => Some(e),
            Err(message) => {
                self.error(at, format!("<Action>: {message}"));
                None
            }
        };
        Ok(Open::Action { effect, producer, target, targets: 0, at })
    }

    /// A piece of text content: a `<Text>`'s words, kept as written
    /// between its pieces (`Boiler &amp; pump`) and trimmed at its end.
    fn text(&mut self, text: &str, at: At) {
        if let Some(Open::Element(n)) = self.stack.last()
            && let Shape::Text { text: t, .. } = &mut self.scope.elements[*n as usize - 1].shape
        {
            t.push_str(text);
            return;
        }
        if !text.trim().is_empty() {
            self.error(at, format!("text {:?} outside a <Text>", text.trim()));
        }
    }

    fn close(&mut self) {
        if let Some(open) = self.stack.pop() {
            self.close_open(open);
        }
    }

    fn close_open(&mut self, open: Open) {
        match open {
            Open::Element(n) => {
                if let Shape::Text { text, .. } = &mut self.scope.elements[n as usize - 1].shape {
                    *text = text.trim().to_owned();
                }
            }
            Open::Group => {
                self.groups.pop();
            }
            Open::Object(name) => {
                if let Some((_, mut object, diagram_scope)) = self.object.take() {
                    let scope = std::mem::replace(&mut self.scope, diagram_scope);
                    object.elements = scope.elements;
                    object.actions = scope.actions;
                    self.resolve(Some(&name), &scope.ids, &mut object.actions);
                    self.check_ordinals(Some(&name), object.elements.len());
                    self.diagram.objects.insert(name, object);
                }
            }
            Open::Action { effect: Some(effect), producer: Some(producer), target: Some(target), .. } => {
                self.push_action(Action { producer, effect, target });
            }
            Open::Action { effect: Some(effect), producer: Some(producer), target: None, targets: 0, .. } => {
                // No target: the diagram itself.
                self.push_action(Action { producer, effect, target: Target::Diagram });
            }
            Open::Action { producer: None, target: Some(_), at: action_at, .. } => {
                self.error(action_at, "<Action>: an action in a <Target> needs an <Attach> naming its producer");
            }
            _ => {}
        }
    }

    /// Resolves the fix-ups of `object`'s scope (`None`: the diagram).
    fn resolve(&mut self, object: Option<&str>, ids: &HashMap<String, u32>, actions: &mut [Action]) {
        let (mine, rest): (Vec<Fixup>, Vec<Fixup>) =
            std::mem::take(&mut self.fixups).into_iter().partition(|f| f.object.as_deref() == object);
        self.fixups = rest;
        for f in mine {
            let Some(n) = ids.get(&f.name) else {
                self.error(f.at, format!("no element has id {:?}", f.name));
                continue;
            };
            let Some(action) = actions.get_mut(f.action) else { continue };
            match (&mut action.producer, &mut action.target) {
                (Producer::User { element, .. }, _) if f.producer => *element = *n,
                (_, Target::Element { element }) if !f.producer => *element = *n,
                _ => {}
            }
        }
    }

    fn finish(mut self) -> Result<Diagram, Vec<DiagramError>> {
        if !self.seen_root {
            self.error((1, 1), "empty: a diagram file holds a <Diagram>");
        }
        if let Some(open) = self.stack.last() {
            self.error((1, 1), format!("the file ends inside {open:?}"));
        }
        let ids = std::mem::take(&mut self.scope.ids);
        let mut actions = std::mem::take(&mut self.scope.actions);
        self.resolve(None, &ids, &mut actions);
        self.check_ordinals(None, self.scope.elements.len());
        if !self.errors.is_empty() {
            self.errors.sort_by_key(|e| (e.line, e.col));
            return Err(self.errors);
        }
        self.diagram.elements = std::mem::take(&mut self.scope.elements);
        self.diagram.actions = actions;
        let mut signals: Vec<(Signal, u32)> = std::mem::take(&mut self.signals).into_iter().collect();
        signals.sort_by_key(|(_, i)| *i);
        self.diagram.signals = signals.into_iter().map(|(s, _)| s).collect();
        Ok(self.diagram)
    }
}

fn is_builtin(name: &str) -> bool {
    [
        "Diagram",
        "Group",
        "Object",
        "Property",
        "Feature",
        "Producer",
        "Action",
        "Target",
        "Attach",
        "Line",
        "Polyline",
        "Polygon",
        "Rectangle",
        "Ellipse",
        "Arc",
        "Text",
        "Image",
    ]
    .contains(&name)
}

fn check_value(kind: &str, value: &str) -> Result<(), String> {
    let ok = match kind {
        "integer" => value.trim().parse::<i64>().is_ok(),
        "number" => value.trim().parse::<f64>().is_ok_and(f64::is_finite),
        "boolean" => matches!(value.trim(), "true" | "false"),
        "color" => color(value).is_ok(),
        _ => true,
    };
    if ok { Ok(()) } else { Err(format!("{value:?} is not a {kind}")) }
}

/// The condition of a data or property producer: `when` and `value`.
fn condition(a: &HashMap<String, String>) -> Result<Condition, String> {
    let value = a.get("value").map(String::as_str);
    let number = |what: &str| -> Result<f64, String> {
        let v = value.ok_or_else(|| format!("when=\"{what}\" needs a \"value\""))?;
        Ok(exactly(v, 1, "value")?[0])
    };
    match a.get("when").map_or("any", String::as_str) {
        "any" => Ok(Condition::Any),
        "above" => Ok(Condition::Above { value: number("above")? }),
        "below" => Ok(Condition::Below { value: number("below")? }),
        "equal" => Ok(Condition::Equal { value: value.ok_or("when=\"equal\" needs a \"value\"")?.to_owned() }),
        "range" => {
            let v = exactly(value.ok_or("when=\"range\" needs a \"value\" min,max")?, 2, "a range")?;
            if v[0] > v[1] {
                return Err(format!("range {},{}: min above max", v[0], v[1]));
            }
            Ok(Condition::Range { min: v[0], max: v[1] })
        }
        "stale" => Ok(Condition::Stale { seconds: number("stale")? }),
        "flagged" => Ok(Condition::Flagged),
        other => Err(format!("when {other:?} is not one of any, above, below, equal, range, stale, flagged")),
    }
}

/// What an `<Action type|nick=…>` does.
fn effect(a: &HashMap<String, String>) -> Result<Effect, String> {
    let get = |key: &str| a.get(key).map(String::as_str);
    let kind = get("type").or(get("nick")).ok_or("needs a \"type\"")?;
    let value = || get("value").ok_or_else(|| format!("type {kind:?} needs a \"value\""));
    Ok(match kind {
        "change_color" => Effect::ChangeColor { value: color(value()?)? },
        "change_fill" => Effect::ChangeFill { value: fill(value()?)? },
        "visibility" => match value()? {
            v @ ("show" | "hide" | "toggle") => Effect::Visibility { value: v.to_owned() },
            v => return Err(format!("visibility {v:?} is not show, hide or toggle")),
        },
        "move" => {
            let by = exactly(value()?, 2, "a move")?;
            Effect::Move { by: [by[0], by[1]] }
        }
        "blink" => match value()? {
            "on" => Effect::Blink { on: true },
            "off" => Effect::Blink { on: false },
            v => return Err(format!("blink {v:?} is not on or off")),
        },
        "set_property" => Effect::SetProperty {
            name: get("name").ok_or("set_property needs the property's \"name\"")?.to_owned(),
            value: get("value").map(str::to_owned),
        },
        "show_value" => Effect::ShowValue {
            decimals: get("decimals")
                .map(|d| d.trim().parse::<u8>().ok().filter(|d| *d <= 9).ok_or(format!("decimals {d:?}: 0 to 9")))
                .transpose()?,
            unit: get("unit").map(str::to_owned),
        },
        "goto" => Effect::Goto { diagram: value()?.to_owned() },
        "zoom" => {
            let factor = exactly(value()?, 1, "a zoom")?[0];
            if factor <= 0.0 {
                return Err("a zoom factor is above 0".into());
            }
            Effect::Zoom { factor }
        }
        other => {
            return Err(format!(
                "type {other:?} is not one of change_color, change_fill, visibility, move, blink, set_property, show_value, goto, zoom"
            ));
        }
    })
}
