//! Why the simulator could not run or stopped: each message names what
//! and where (the option, the URL, the broker, the storage address).

/// A failure of the simulator.
#[derive(Debug, thiserror::Error)]
pub enum LnsError {
    /// Options that cannot work (together).
    #[error("option {option}: {problem}")]
    Option {
        /// The option (its command-line flag).
        option: &'static str,
        /// What is wrong.
        problem: String,
    },
    /// An HTTP URL the simulator cannot post to.
    #[error("HTTP URL {url:?}: {problem}")]
    HttpUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The HTTP endpoint could not be reached.
    #[error("cannot reach {url} (TCP {address}), tried for {waited_ms} ms: {error}")]
    HttpUnreachable {
        /// The URL.
        url: String,
        /// The address connected to.
        address: String,
        /// How long it kept trying.
        waited_ms: u64,
        /// The last error.
        error: String,
    },
    /// Posting stopped for another reason.
    #[error("posting to {url}: {error}")]
    HttpFailed {
        /// The URL.
        url: String,
        /// What happened.
        error: String,
    },
    /// An MQTT broker URL the simulator cannot use.
    #[error("MQTT broker URL {url:?}: {problem}")]
    MqttUrl {
        /// The URL given.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The broker answered the connection with a refusal.
    #[error("MQTT broker {url} refused the connection: {reason}")]
    BrokerRefused {
        /// The broker URL.
        url: String,
        /// The CONNACK return code.
        reason: String,
    },
    /// The broker could not be reached.
    #[error("cannot reach MQTT broker {url}, tried for {waited_ms} ms: {error}")]
    BrokerUnreachable {
        /// The broker URL.
        url: String,
        /// How long it kept trying.
        waited_ms: u64,
        /// The last error.
        error: String,
    },
    /// The broker connection broke while publishing.
    #[error("MQTT broker {url}: connection lost after {published} publishes: {error}")]
    BrokerLost {
        /// The broker URL.
        url: String,
        /// Messages published until then.
        published: u64,
        /// The error.
        error: String,
    },
    /// The storage API could not listen on its address.
    #[error("storage API (--storage {address}): cannot listen: {error}")]
    StorageListen {
        /// The address given.
        address: String,
        /// What the system said.
        error: String,
    },
    /// An uplink the storage could not file (a body it cannot read: a
    /// fault of the simulator itself).
    #[error("storage: cannot file uplink {body:?}: {problem}")]
    StorageBody {
        /// The start of the body.
        body: String,
        /// What is wrong.
        problem: String,
    },
    /// The async runtime could not start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}
