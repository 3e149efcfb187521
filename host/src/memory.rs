//! Returning freed heap memory to the operating system: mimalloc's purge
//! delay ([`return_freed_pages_promptly`]), and glibc's arenas when the
//! host is built without mimalloc (heap profiling). Compiling a plugin
//! version allocates a lot briefly (on several threads, so in several
//! malloc arenas); glibc keeps those pages after they are freed, which
//! would read as growth after every plugin swap.

/// mimalloc's option `purge_delay` (`mi_option_purge_delay` in mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Makes mimalloc give freed pages back to the OS at once instead of a
/// second later (its default): the pipeline frees a batch's memory every
/// second, so with the default the pages of the last batch are always held
/// on top of the next one's (measured: about 60 MiB of RSS at 20 k
/// readings/s). `MIMALLOC_PURGE_DELAY` in the environment still decides
/// when set. Call first thing in `main`.
pub fn return_freed_pages_promptly() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        #[allow(unsafe_code, reason = "one mimalloc call on a plain integer option")]
        // SAFETY: mi_option_set writes one of mimalloc's option values; it
        // runs first in main, before any other thread exists.
        unsafe {
            libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0);
        }
    }
}

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
