//! What runs, and changing it while it runs. The start is a change from
//! nothing; a configuration edit or a plugin dropped into the folder is a
//! change from what runs. Every change takes the same path:
//!
//! - [`plan`]: the difference, per driver instance (keep, renew, start, stop);
//! - [`host`]: prepare what the plan needs (instances, listeners; may fail,
//!   touching nothing) and commit it (switch over; cannot fail);
//! - [`reconciler`]: the task applying changes one at a time;
//! - [`watch`]: the configuration file and plugins folder watchers;
//! - [`history`]: the last good configurations, for `meterhub config rollback`;
//! - [`view`]: what the host publishes about itself after each change.

pub mod history;
pub mod host;
pub mod plan;
pub mod reconciler;
pub mod view;
pub mod watch;

pub use host::{DriverServices, Host, Trigger};
pub use reconciler::Reconciler;
pub use view::{HostView, LiveView};
