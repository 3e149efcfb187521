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
