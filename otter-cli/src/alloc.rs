//! The process's allocator: mimalloc, tuned for a long-running process whose memory comes in
//! waves (batches of rows read, applied and dropped).
//!
//! mimalloc (v3, as bundled by `libmimalloc-sys`) keeps freed memory for a second before giving
//! it back, lets the kernel back its arenas with transparent huge pages and commits arenas
//! eagerly: measured on the apply benchmark's catch-up (docs/PERFORMANCE.md, "Memory"), that
//! made the peak RSS about twice the peak of live heap. [`tune`] gives freed pages back at once,
//! without huge pages (mimalloc's option, and the process's `PR_SET_THP_DISABLE` flag: the option
//! alone comes too late for mimalloc's first arena), committing on demand — unless the
//! environment sets the option (`MIMALLOC_PURGE_DELAY`, `MIMALLOC_ALLOW_THP`,
//! `MIMALLOC_ARENA_EAGER_COMMIT`: the user's choice wins).
//!
//! The options are set by number through mimalloc's C API (`mi_option_set`); the numbers are
//! those of mimalloc v3's `mi_option_t`, and a test checks that each still names the option
//! meant (by its documented default), so an upgrade that renumbers them fails the tests instead
//! of setting another option.

use std::os::raw::{c_int, c_long};

/// mimalloc instead of the system allocator: a replication pipeline allocates and frees many
/// small row values on several threads, where glibc's malloc spent ~30 % of otter's CPU time in
/// an apply benchmark (docs/PERFORMANCE.md, "Apply").
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

extern "C" {
    #[cfg(test)]
    fn mi_option_get(option: c_int) -> c_long;
    fn mi_option_set(option: c_int, value: c_long);
}

/// `(option number, environment variable, default, otter's value)`.
const OPTIONS: [(c_int, &str, c_long, c_long); 3] = [
    // mi_option_arena_eager_commit: 2 = eager where the OS overcommits (Linux).
    (4, "MIMALLOC_ARENA_EAGER_COMMIT", 2, 0),
    // mi_option_purge_delay, milliseconds.
    (15, "MIMALLOC_PURGE_DELAY", 1000, 0),
    // mi_option_allow_thp.
    (43, "MIMALLOC_ALLOW_THP", 1, 0),
];

/// Sets otter's allocator options (see the module docs); call first thing in `main`.
pub fn tune() {
    for (option, var, _, value) in OPTIONS {
        if std::env::var_os(var).is_none() {
            // SAFETY: mimalloc's documented C API; setting an option is allowed at any time and
            // the numbers are checked by the test below.
            unsafe { mi_option_set(option, value) };
        }
    }
    no_huge_pages();
}

/// Turns transparent huge pages off for the process, as `MIMALLOC_ALLOW_THP=0` in the
/// environment would: mimalloc reads that option once, when it initialises (before `main`), and
/// by then has already asked for huge pages on its first arena, so setting the option in [`tune`]
/// alone leaves that arena on 2 MiB pages — each freed page given back and touched again is then
/// a 2 MiB page to clear (measured: ~9 % of otter's CPU in the kernel's huge-page zeroing).
fn no_huge_pages() {
    #[cfg(target_os = "linux")]
    if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
        // SAFETY: prctl(PR_SET_THP_DISABLE) takes plain integers and changes only this
        // process's page policy for later page faults.
        let _ = unsafe { libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0) };
    }
}

/// The current value of the option number `option`.
#[cfg(test)]
fn get(option: c_int) -> c_long {
    // SAFETY: mimalloc's documented C API, reading an option.
    unsafe { mi_option_get(option) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_option_numbers_name_the_options_meant() {
        // Unit tests do not call `tune`: every option not set in the environment still has
        // mimalloc v3's default, which identifies it.
        for (option, var, default, _) in OPTIONS {
            if std::env::var_os(var).is_none() {
                assert_eq!(get(option), default, "mimalloc option {option} is not {var} any more (a new mimalloc numbering?)");
            }
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn huge_pages_are_off_for_the_process_unless_the_environment_allows_them() {
        no_huge_pages();
        // SAFETY: PR_GET_THP_DISABLE reads the process's flag (1 = huge pages off).
        let off = unsafe { libc::prctl(libc::PR_GET_THP_DISABLE, 0, 0, 0, 0) };
        if std::env::var_os("MIMALLOC_ALLOW_THP").is_none() {
            assert_eq!(off, 1, "transparent huge pages are still on for the process");
        }
    }
}
