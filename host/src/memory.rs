//! Returning freed heap memory to the operating system. Compiling a plugin
//! version allocates a lot briefly (on several threads, so in several
//! malloc arenas); glibc keeps those pages after they are freed, which
//! would read as growth after every plugin swap.

/// Give free heap pages back to the OS (glibc `malloc_trim`); a no-op
/// elsewhere.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code, reason = "one libc call without arguments to own")]
    // SAFETY: malloc_trim only walks glibc's own arenas; it takes no
    // pointers and is safe to call from any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// mimalloc's `mi_option_purge_delay` (its index in `mi_option_e` of
/// mimalloc v3's `mimalloc.h`; the Rust bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;
/// How long mimalloc keeps freed pages before it returns them, ms (its
/// default is 1000).
const PURGE_DELAY_MS: std::ffi::c_long = 100;

/// Set the process's memory up for a long-running host, first thing in
/// `main`: no transparent huge pages (a 2 MiB page stays resident while any
/// byte of it is used: at 20 k readings/s they held a third of the RSS),
/// and freed heap pages returned after [`PURGE_DELAY_MS`]. Measured in
/// issue 14: 332 MiB after 2 minutes at 20 k readings/s, 221 MiB with both.
pub fn tune_for_a_long_run() {
    #[cfg(target_os = "linux")]
    #[allow(unsafe_code, reason = "one prctl on the process's own flags")]
    // SAFETY: PR_SET_THP_DISABLE takes integers only and changes a flag of
    // this process; nothing else is read or written.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
    // An operator's own setting wins.
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code, reason = "one mimalloc option set by value")]
        // SAFETY: mi_option_set takes an option index and a value; the
        // index is one mimalloc knows (checked by the test below).
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[allow(unsafe_code, reason = "reading a mimalloc option")]
    fn the_purge_delay_index_is_mimallocs_purge_delay() {
        // Only purge_delay defaults to 1000 among mimalloc v3's options; a
        // new mimalloc that moved it makes this fail instead of setting
        // another option.
        // SAFETY: mi_option_get reads an option by index.
        let default = unsafe { libmimalloc_sys::mi_option_get(MI_OPTION_PURGE_DELAY) };
        let from_env = std::env::var("MIMALLOC_PURGE_DELAY").ok();
        assert!(from_env.is_some() || default == 1000, "option 15 is {default}");
    }
}
