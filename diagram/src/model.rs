//! The compiled diagram: what the viewer draws and runs, serialized as
//! compact JSON (short keys, numbers as numbers, no nulls).

use std::collections::BTreeMap;

use serde::Serialize;

/// The version of this compiled form.
pub const VERSION: u32 = 1;

/// A diagram, compiled.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Diagram {
    /// [`VERSION`].
    pub version: u32,
    /// Its name (`<Diagram Name=…>`).
    pub name: String,
    /// Its drawing's extent `x1,y1,x2,y2`.
    pub range: [f64; 4],
    /// Its background colour.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub background: Option<String>,
    /// Feature names; elements name them by index.
    pub features: Vec<String>,
    /// Groups, by index; elements and groups name their group by it.
    pub groups: Vec<Group>,
    /// Every element in drawing order: element `n` (its ordinal, from 1)
    /// is `elements[n - 1]`.
    pub elements: Vec<Element>,
    /// Reusable objects by name.
    pub objects: BTreeMap<String, Object>,
    /// Actions, from their producers to their targets.
    pub actions: Vec<Action>,
    /// Every data signal the actions bind (`device`, `channel`), once.
    pub signals: Vec<Signal>,
}

/// A group of elements (`<Group>`), nested.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// `Name`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `Range`: the group's own coordinates.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<[f64; 4]>,
    /// `Port`: where its range is drawn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<[f64; 4]>,
    /// `Transform="a1,…,a6"`: x' = a1·x + a2·y + a3, y' = a4·x + a5·y + a6.
    #[serde(rename = "t", skip_serializing_if = "Option::is_none")]
    pub transform: Option<[f64; 6]>,
    /// The group it is in.
    #[serde(rename = "g", skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
}

/// What an element draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "k")]
pub enum Shape {
    /// `<Line position="x1,y1,x2,y2">`.
    Line {
        /// The points.
        p: [f64; 4],
    },
    /// `<Rectangle position="x1,y1,x2,y2">`.
    Rect {
        /// The corners.
        p: [f64; 4],
    },
    /// `<Ellipse position="x1,y1,x2,y2">` (its bounding box).
    Ellipse {
        /// The bounding box.
        p: [f64; 4],
    },
    /// `<Arc position="x1,y1,x2,y2" start="deg" sweep="deg">`.
    Arc {
        /// The ellipse's bounding box.
        p: [f64; 4],
        /// Start angle, degrees.
        start: f64,
        /// Sweep, degrees.
        sweep: f64,
    },
    /// `<Polyline points="x,y x,y …">`.
    Polyline {
        /// `x,y` pairs, flat.
        p: Vec<f64>,
    },
    /// `<Polygon points="…">`, closed.
    Polygon {
        /// `x,y` pairs, flat.
        p: Vec<f64>,
    },
    /// `<Text position="x,y" size="h">text</Text>`.
    Text {
        /// Where it starts.
        p: [f64; 2],
        /// The text.
        text: String,
        /// Its height in drawing units.
        size: f64,
    },
    /// `<Image position="x1,y1,x2,y2" href="…">`.
    Image {
        /// Where.
        p: [f64; 4],
        /// Which image (a name in the diagrams folder).
        href: String,
    },
    /// An object used as an element: `<Lamp position="…">`.
    Object {
        /// Where its range is drawn.
        p: [f64; 4],
        /// The object's name.
        object: String,
        /// Its property values here.
        props: BTreeMap<String, String>,
    },
}

/// One element.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Element {
    /// What it draws.
    #[serde(flatten)]
    pub shape: Shape,
    /// Its name, when it has one (`id`); else its ordinal names it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Line colour `rrggbb`.
    #[serde(rename = "c", skip_serializing_if = "Option::is_none")]
    pub color: Option<String>,
    /// Fill colour; none when absent.
    #[serde(rename = "f", skip_serializing_if = "Option::is_none")]
    pub fill: Option<String>,
    /// Line width.
    #[serde(rename = "w", skip_serializing_if = "Option::is_none")]
    pub width: Option<f64>,
    /// The group it is in.
    #[serde(rename = "g", skip_serializing_if = "Option::is_none")]
    pub group: Option<u32>,
    /// Its features (indexes into [`Diagram::features`]).
    #[serde(rename = "ft", skip_serializing_if = "Vec::is_empty")]
    pub features: Vec<u32>,
}

/// A property of an object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Property {
    /// Its name.
    pub name: String,
    /// `integer`, `number`, `string`, `boolean` or `color`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its default value.
    pub value: String,
}

/// A reusable object (`<Object Name Range>`): properties, its own drawing
/// in its own coordinates, and actions bound to its properties.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Object {
    /// Its coordinates, scaled into an instance's position.
    pub range: [f64; 4],
    /// Its properties.
    pub properties: Vec<Property>,
    /// Its drawing (ordinals from 1 within the object).
    pub elements: Vec<Element>,
    /// Its actions (targets are its own elements).
    pub actions: Vec<Action>,
}

/// What starts an action.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "on")]
pub enum Producer {
    /// A user event on an element: `click`, `mousedown`, `mouseup`, `hover`.
    User {
        /// The event.
        event: String,
        /// The element's ordinal.
        element: u32,
    },
    /// Data: a reading of a signal that meets `when`.
    Data {
        /// Index into [`Diagram::signals`].
        signal: u32,
        /// The condition.
        when: Condition,
    },
    /// An object's property (inside an object): its value meets `when`.
    Property {
        /// The property.
        property: String,
        /// The condition.
        when: Condition,
    },
    /// The diagram itself (it opened).
    Open,
}

/// When a value makes an action run.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "is")]
pub enum Condition {
    /// Every value.
    Any,
    /// Above a limit.
    Above {
        /// The limit.
        value: f64,
    },
    /// Below a limit.
    Below {
        /// The limit.
        value: f64,
    },
    /// Equal to a value (numbers compared as numbers, else as text).
    Equal {
        /// The value.
        value: String,
    },
    /// Within `[min, max]`.
    Range {
        /// Lower bound.
        min: f64,
        /// Upper bound.
        max: f64,
    },
    /// No reading for longer than this many seconds.
    Stale {
        /// Seconds.
        seconds: f64,
    },
    /// The reading is flagged: a conflict, or stamped by a clock ahead.
    Flagged,
}

/// What an action does to its target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "do")]
pub enum Effect {
    /// Line colour.
    ChangeColor {
        /// `rrggbb`.
        value: String,
    },
    /// Fill colour.
    ChangeFill {
        /// `rrggbb`, or none.
        value: Option<String>,
    },
    /// Shown, hidden or toggled.
    Visibility {
        /// `show`, `hide` or `toggle`.
        value: String,
    },
    /// Moved by `dx,dy`.
    Move {
        /// `[dx, dy]`.
        by: [f64; 2],
    },
    /// Blinking on or off.
    Blink {
        /// On.
        on: bool,
    },
    /// An object's property set.
    SetProperty {
        /// The property.
        name: String,
        /// Its new value; none: the producer's value.
        #[serde(skip_serializing_if = "Option::is_none")]
        value: Option<String>,
    },
    /// The producer's value shown as the target's text.
    ShowValue {
        /// Decimals (none: as read).
        #[serde(skip_serializing_if = "Option::is_none")]
        decimals: Option<u8>,
        /// A unit after it.
        #[serde(skip_serializing_if = "Option::is_none")]
        unit: Option<String>,
    },
    /// Open another diagram.
    Goto {
        /// Its name.
        diagram: String,
    },
    /// Zoom by a factor.
    Zoom {
        /// The factor.
        factor: f64,
    },
}

/// What an action is aimed at.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "snake_case", tag = "to")]
pub enum Target {
    /// One element, by ordinal.
    Element {
        /// Its ordinal.
        element: u32,
    },
    /// Every element with a feature.
    Feature {
        /// Index into [`Diagram::features`].
        feature: u32,
    },
    /// The diagram itself (go-to, zoom).
    Diagram,
}

/// An action: PRODUCER–ACTION–TARGET.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Action {
    /// What starts it.
    pub producer: Producer,
    /// What it does.
    #[serde(flatten)]
    pub effect: Effect,
    /// To what.
    pub target: Target,
}

/// A data signal: a device's channel, as in the stream API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Signal {
    /// Device (meter) id.
    pub device: String,
    /// Channel.
    pub channel: String,
}
