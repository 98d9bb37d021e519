//! The few operating-system calls the standard library does not offer:
//! the open-file limit, the listen backlog, the LAN addresses, and random
//! bytes for names nobody can guess.

/// `struct rlimit`. `rlim_t` is 64 bits on every target lanchat is built
/// for: musl everywhere (32-bit ARM included) and glibc on 64-bit machines.
#[repr(C)]
struct RLimit {
    cur: u64,
    max: u64,
}

#[cfg(any(target_pointer_width = "64", target_env = "musl"))]
unsafe extern "C" {
    fn getrlimit(resource: i32, rlim: *mut RLimit) -> i32;
    fn setrlimit(resource: i32, rlim: *const RLimit) -> i32;
}

const RLIMIT_NOFILE: i32 = 7;

/// Raises the open-file limit towards `want` (the hard limit too, where
/// allowed) and returns the soft limit now in force (0 if unknown).
#[cfg(any(target_pointer_width = "64", target_env = "musl"))]
pub fn raise_nofile(want: u64) -> u64 {
    let mut r = RLimit { cur: 0, max: 0 };
    // SAFETY: plain libc calls on a correctly laid out struct rlimit.
    unsafe {
        if getrlimit(RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
        if r.cur >= want {
            return r.cur;
        }
        let raised = RLimit { cur: want, max: r.max.max(want) };
        if setrlimit(RLIMIT_NOFILE, &raised) != 0 {
            let soft = RLimit { cur: r.max.min(want), max: r.max };
            let _ = setrlimit(RLIMIT_NOFILE, &soft);
        }
        if getrlimit(RLIMIT_NOFILE, &mut r) != 0 {
            return 0;
        }
    }
    r.cur
}

/// Leaves the limit alone where `rlim_t` may not be 64 bits.
#[cfg(not(any(target_pointer_width = "64", target_env = "musl")))]
pub fn raise_nofile(_want: u64) -> u64 {
    0
}

#[cfg(unix)]
unsafe extern "C" {
    fn listen(fd: i32, backlog: i32) -> i32;
}

/// Sets the backlog of a listening socket by calling `listen` on it once
/// more, which Linux allows (std's `TcpListener::bind` asks for 128). The
/// kernel silently caps it at `net.core.somaxconn`.
#[cfg(unix)]
pub fn set_backlog(listener: &std::net::TcpListener, backlog: i32) -> std::io::Result<()> {
    use std::os::fd::AsRawFd;
    // SAFETY: a plain libc call on a descriptor the listener owns for the whole call.
    if unsafe { listen(listener.as_raw_fd(), backlog) } == 0 { Ok(()) } else { Err(std::io::Error::last_os_error()) }
}

/// Leaves the backlog alone where there is no `listen` to call.
#[cfg(not(unix))]
pub fn set_backlog(_listener: &std::net::TcpListener, _backlog: i32) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

/// `struct ifaddrs`, as glibc and musl lay it out.
#[cfg(target_os = "linux")]
#[repr(C)]
struct IfAddrs {
    next: *mut IfAddrs,
    name: *mut u8,
    flags: u32,
    addr: *mut SockAddrIn,
    netmask: *mut SockAddrIn,
    ifu: *mut SockAddrIn,
    data: *mut u8,
}

/// The start of `struct sockaddr_in` (all `struct sockaddr` share the family).
#[cfg(target_os = "linux")]
#[repr(C)]
struct SockAddrIn {
    family: u16,
    port: u16,
    addr: [u8; 4],
}

#[cfg(target_os = "linux")]
unsafe extern "C" {
    fn getifaddrs(list: *mut *mut IfAddrs) -> i32;
    fn freeifaddrs(list: *mut IfAddrs);
}

/// The machine's IPv4 addresses other than loopback, for telling people
/// where the page is (interfaces that are up; each address once).
#[cfg(target_os = "linux")]
pub fn ipv4_addresses() -> Vec<std::net::Ipv4Addr> {
    const AF_INET: u16 = 2;
    const IFF_UP: u32 = 1;
    let mut out = Vec::new();
    let mut list = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a list we only read, then free with freeifaddrs.
    unsafe {
        if getifaddrs(&mut list) != 0 {
            return out;
        }
        let mut at = list;
        while let Some(ifa) = at.as_ref() {
            if ifa.flags & IFF_UP != 0
                && let Some(sa) = ifa.addr.as_ref()
                && sa.family == AF_INET
            {
                let ip = std::net::Ipv4Addr::from(sa.addr);
                if !ip.is_loopback() && !out.contains(&ip) {
                    out.push(ip);
                }
            }
            at = ifa.next;
        }
        freeifaddrs(list);
    }
    out
}

#[cfg(not(target_os = "linux"))]
pub fn ipv4_addresses() -> Vec<std::net::Ipv4Addr> {
    Vec::new()
}

/// `N` bytes from the kernel's random generator, for file ids and upload
/// tokens (128 bits nobody can guess).
pub fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    use std::io::Read;
    let mut b = [0u8; N];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut b)?;
    Ok(b)
}

/// Bytes as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
