//! The open-file limit: raised to the hard limit at start, so the limits
//! of the listeners ([`meterhub_http::gate`]), not the kernel's default soft
//! limit, decide when connections are refused.

/// Raises the soft open-file limit to the hard one and returns the soft
/// limit in effect (logged with the hard one).
pub fn raise_to_hard_limit() -> usize {
    #[allow(unsafe_code, reason = "two libc calls on a struct owned here")]
    // SAFETY: getrlimit and setrlimit read and write only the rlimit value
    // passed by reference, which lives on this stack frame.
    let (before, after, hard) = unsafe {
        let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            tracing::warn!(error = %std::io::Error::last_os_error(), "cannot read the open-file limit");
            return 1024;
        }
        let before = limit.rlim_cur;
        if limit.rlim_cur < limit.rlim_max {
            limit.rlim_cur = limit.rlim_max;
            if libc::setrlimit(libc::RLIMIT_NOFILE, &limit) != 0 {
                tracing::warn!(error = %std::io::Error::last_os_error(), "cannot raise the open-file limit");
                limit.rlim_cur = before;
            }
        }
        (before, limit.rlim_cur, limit.rlim_max)
    };
    tracing::info!(soft_before = before, soft = after, hard, "open-file limit");
    usize::try_from(after).unwrap_or(usize::MAX)
}
