//! Raw descriptor reads and writes for the relay: no userspace buffering, no
//! zeroing of read buffers, and correct on descriptors a parent left
//! non-blocking (`EAGAIN` waits in `poll` instead of spinning).

use std::io;
use std::os::fd::RawFd;

use bytes::BytesMut;

/// What one [`read_into`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Filled {
    /// Bytes read; 0 is end of file.
    pub read: usize,
    /// Spare capacity of the old buffer left behind when `buf` had to grow
    /// into a fresh one: allocated still, for as long as what was split off
    /// the old buffer lives (the hand-off counts it, `AuditHandle::offer_pinning`).
    pub left_behind: usize,
}

/// Reads at most `want` bytes appended to `buf`'s spare capacity (grown when
/// under a sixteenth of `want` is left: what is left behind stays allocated
/// while queued chunks share the old buffer, and counts against the
/// hand-off's byte limit, so the tail kept small keeps that limit for data).
pub fn read_into(fd: RawFd, buf: &mut BytesMut, want: usize) -> io::Result<Filled> {
    let spare = buf.capacity() - buf.len();
    let left_behind = if spare < want / 16 {
        buf.reserve(want);
        spare
    } else {
        0
    };
    loop {
        let spare = buf.spare_capacity_mut();
        let len = spare.len().min(want);
        // SAFETY: `spare` is writable memory of at least `len` bytes; read(2)
        // initialises the first `n` of them, which is what set_len exposes.
        let n = unsafe { libc::read(fd, spare.as_mut_ptr().cast(), len) };
        if n >= 0 {
            let n = n as usize;
            unsafe { buf.set_len(buf.len() + n) };
            return Ok(Filled {
                read: n,
                left_behind,
            });
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => wait(fd, libc::POLLIN)?,
            _ => return Err(err),
        }
    }
}

/// Writes all of `bytes` to `fd`.
pub fn write_all(fd: RawFd, mut bytes: &[u8]) -> io::Result<()> {
    while !bytes.is_empty() {
        // SAFETY: `bytes` is valid for reads of its length.
        let n = unsafe { libc::write(fd, bytes.as_ptr().cast(), bytes.len()) };
        if n >= 0 {
            bytes = &bytes[n as usize..];
            continue;
        }
        let err = io::Error::last_os_error();
        match err.kind() {
            io::ErrorKind::Interrupted => continue,
            io::ErrorKind::WouldBlock => wait(fd, libc::POLLOUT)?,
            _ => return Err(err),
        }
    }
    Ok(())
}

fn wait(fd: RawFd, events: libc::c_short) -> io::Result<()> {
    let mut pfd = libc::pollfd {
        fd,
        events,
        revents: 0,
    };
    loop {
        // SAFETY: one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, -1) };
        if r >= 0 {
            return Ok(());
        }
        let err = io::Error::last_os_error();
        if err.kind() != io::ErrorKind::Interrupted {
            return Err(err);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn reads_and_writes_through_a_pipe_including_nonblocking() {
        let (r, w) = std::io::pipe().unwrap();
        // SAFETY: setting O_NONBLOCK on our own pipe end.
        unsafe { libc::fcntl(r.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
        let writer = std::thread::spawn(move || {
            write_all(w.as_raw_fd(), b"hello ").unwrap();
            write_all(w.as_raw_fd(), b"world").unwrap();
        });
        let mut buf = BytesMut::new();
        let mut total = Vec::new();
        loop {
            let n = read_into(r.as_raw_fd(), &mut buf, 4096).unwrap().read;
            if n == 0 {
                break;
            }
            total.extend_from_slice(&buf.split());
        }
        writer.join().unwrap();
        assert_eq!(total, b"hello world");
    }
}
