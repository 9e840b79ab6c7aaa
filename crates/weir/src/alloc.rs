//! The global allocator, and the one setting weir changes in it.
//!
//! mimalloc hands memory that stayed free for a second (`purge_delay`) back to the kernel with
//! `MADV_DONTNEED`. The next allocation there takes a page fault per 4 KiB page. On a virtual
//! machine whose free memory goes back to the host (free-page reporting, as on the project
//! machine), such a fault can also be a host fault: measured, 0.3 ms, and about one in three
//! 5–6 ms. The paced benchmark took 12,000 faults in 15 s (PutRecords bodies and GetRecords
//! answers of hundreds of KiB, each request on whichever worker it lands on), and they were
//! most of its put→get tail: a 70 µs GetRecords encode took 5 ms with one fault. With purging
//! off it took one fault in 15 s.
//!
//! So weir keeps what it frees. Its resident memory is then its peak, not its current use.
//! That is how a server sized for its load runs anyway, and mimalloc still reuses that memory
//! for every later allocation. `MIMALLOC_PURGE_DELAY` in the environment still wins, for
//! anyone who wants memory back after a burst.
//!
//! This is weir's only `unsafe`: setting an option through mimalloc's C API. The workspace
//! forbids `unsafe` unless a measured hot path earns it (STYLE.md); the figures above are
//! that measurement.

use std::os::raw::{c_int, c_long};

/// mimalloc: the put path allocates and frees per request (bodies, decoded records, batches),
/// and glibc's malloc spent ~8 % of the server's CPU there.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc 3's `mi_option_t` (libmimalloc-sys names only the
/// options before it). The test checks that index against the option's default.
const PURGE_DELAY: c_int = 15;
/// The default `purge_delay` of mimalloc 3, in ms.
#[cfg(test)]
const DEFAULT_PURGE_DELAY: c_long = 1000;

/// Turns purging off unless the environment sets it. Call first thing in `main`, before any
/// other thread exists (mimalloc's option setter is not thread-safe).
pub fn keep_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
        return;
    }
    set_option(PURGE_DELAY, -1);
}

#[allow(unsafe_code)]
fn set_option(option: c_int, value: c_long) {
    // SAFETY: `mi_option_set` stores one value in mimalloc's option table; it takes no
    // pointers. It is not thread-safe, and `keep_freed_memory` runs before any other thread.
    unsafe { libmimalloc_sys::mi_option_set(option, value) }
}

#[cfg(test)]
#[allow(unsafe_code)]
fn option(option: c_int) -> c_long {
    // SAFETY: `mi_option_get` reads one value from mimalloc's option table.
    unsafe { libmimalloc_sys::mi_option_get(option) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_purge_delay_index_names_purge_delay_and_is_turned_off() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        // A wrong index would read another option, whose default is not 1000.
        assert_eq!(option(PURGE_DELAY), DEFAULT_PURGE_DELAY);
        keep_freed_memory();
        assert_eq!(option(PURGE_DELAY), -1);
    }
}
