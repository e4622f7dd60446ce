//! Process exit codes every command shares (documented in the README's command line section).

/// Bad configuration (a `sysexits`-style usage error): every problem is listed, each naming
/// its key.
pub const CONFIG: u8 = 2;
